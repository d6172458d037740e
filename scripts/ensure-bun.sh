#!/usr/bin/env bash
# Install bun (the JS runtime Reflex builds the frontend with) from the npm registry into
# ./.jstools, unless the right version is already there. Reflex's own installer downloads a
# script from outside the package registries; with a bun >= 1.4.4 on PATH it skips that.
#
# Progress goes to stderr; stdout is shell code to evaluate:
#     eval "$(scripts/ensure-bun.sh)"
# which puts .jstools/node_modules/.bin on PATH and exports the variables that keep Reflex from
# calling out to the internet (rxconfig.py sets the same defaults for `reflex` run in frontend/).
#
# Needs npm (Debian: `apt-get install -y npm`, or any Node.js >= 18 with npm).
set -euo pipefail

BUN_VERSION="${CARNET_BUN_VERSION:-1.4.5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JSTOOLS="$ROOT/.jstools"
BIN="$JSTOOLS/node_modules/.bin"

log() { printf 'ensure-bun: %s\n' "$*" >&2; }

installed_version() {
    [ -x "$BIN/bun" ] && "$BIN/bun" --version 2>/dev/null || true
}

if [ "$(installed_version)" = "$BUN_VERSION" ]; then
    log "bun $BUN_VERSION already in $BIN"
else
    if ! command -v npm >/dev/null 2>&1; then
        log "npm is required to fetch bun from the npm registry (Debian: apt-get install -y npm)"
        exit 1
    fi
    log "installing bun@$BUN_VERSION from $(npm config get registry) into $JSTOOLS"
    mkdir -p "$JSTOOLS"
    # Exact version, no package.json/lockfile churn in the repository, quiet output.
    npm install --prefix "$JSTOOLS" --no-save --no-audit --no-fund --loglevel=error \
        "bun@$BUN_VERSION" >&2
    got="$(installed_version)"
    if [ "$got" != "$BUN_VERSION" ]; then
        log "bun did not install correctly (found '${got:-nothing}' in $BIN)"
        exit 1
    fi
    log "bun $got installed"
fi

registry="${NPM_CONFIG_REGISTRY:-}"
if [ -z "$registry" ] && command -v npm >/dev/null 2>&1; then
    registry="$(npm config get registry 2>/dev/null || true)"
fi
registry="${registry:-https://registry.npmjs.org/}"

printf 'export PATH=%q:"$PATH"\n' "$BIN"
printf 'export REFLEX_TELEMETRY_ENABLED=false\n'
printf 'export REFLEX_CHECK_LATEST_VERSION=0\n'
printf 'export REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0\n'
printf 'export NPM_CONFIG_REGISTRY=%q\n' "$registry"
