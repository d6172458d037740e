# syntax=docker/dockerfile:1
#
# Carnet images, one Dockerfile, two targets (docker-compose.yml builds both):
#   api  the GraphQL API (`carnet serve`), also used for the one-shot `carnet migrate`
#   web  the Reflex web app from frontend/ (`reflex run --env prod`, one port)
#
#   docker build --target api -t carnet-api .
#   docker build --target web -t carnet-web .
#
# Only PyPI, the npm registry and Debian's mirrors are reached while building; nothing is
# downloaded when a container starts.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:22-bookworm-slim

# ------------------------------------------------------------------------------------------
# GraphiQL's scripts and stylesheets from the npm registry (the API serves them itself, no CDN):
# `npm ci` checks every tarball against the lock file.
FROM ${NODE_IMAGE} AS graphiql
COPY backend/graphiql/package.json backend/graphiql/package-lock.json /opt/graphiql/
RUN npm ci --prefix /opt/graphiql --ignore-scripts --no-audit --no-fund --loglevel=error

# ------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin carnet
WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir backend && touch backend/__init__.py \
    && pip install . \
    && pip uninstall --yes carnet \
    && rm -rf backend build *.egg-info
# Then the code (non-editable install; migrations and GraphiQL's assets ship inside the
# package). `collect` checks each GraphiQL file against its pinned SRI hash.
COPY backend ./backend
RUN --mount=type=bind,from=graphiql,source=/opt/graphiql/node_modules,target=/tmp/graphiql \
    python -m backend.graphiql collect --from /tmp/graphiql \
    && pip install --no-deps . && rm -rf build *.egg-info

# ------------------------------------------------------------------------------------------
FROM base AS api
# Encrypted document blobs (BLOB_DIR); a named volume mounted here keeps this ownership.
RUN mkdir -p /var/lib/carnet/blobs && chown -R carnet:carnet /var/lib/carnet
USER carnet
EXPOSE 8000
# Tables come from the separate `carnet migrate` step (never from several workers at once).
# Health: GET /healthz (alive) and /readyz (PostgreSQL and Redis answer); see docker-compose.yml.
CMD ["carnet", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

# ------------------------------------------------------------------------------------------
# bun (Reflex's JS runtime) from the npm registry: Reflex's own installer downloads a script
# from outside the registries. Node 22 also serves Vite (which needs Node >= 20.19).
FROM ${NODE_IMAGE} AS jstools
ARG BUN_VERSION=1.4.5
RUN npm install --prefix /opt/jstools --no-save --no-audit --no-fund --loglevel=error \
        "bun@${BUN_VERSION}" \
    && /opt/jstools/node_modules/.bin/bun --version

# ------------------------------------------------------------------------------------------
FROM base AS web
# tzdata: dates are shown in Paris time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*
COPY --from=jstools /usr/local/bin/node /usr/local/bin/node
COPY --from=jstools /opt/jstools /opt/jstools
ENV PATH=/opt/jstools/node_modules/.bin:$PATH \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0
COPY --chown=carnet:carnet frontend /app/frontend
USER carnet
WORKDIR /app/frontend
# Install the JS dependencies (reflex.lock/) and build once now, so that starting a container
# needs no registry; `reflex run --env prod` then only recompiles with the runtime settings.
# .states/ holds the web sessions (a named volume in docker-compose.yml).
RUN reflex export --frontend-only --no-zip \
    && mkdir -p .states
EXPOSE 3000
# Frontend and Reflex backend on ONE port (3000). Health: GET /ping.
CMD ["reflex", "run", "--env", "prod", "--single-port", "--frontend-port", "3000", \
     "--backend-host", "0.0.0.0"]
