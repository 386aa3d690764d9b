# syntax=docker/dockerfile:1
# ExampleApp image: gunicorn + Django (the API, the admin and the web client's files),
# production settings, non-root, no build tools.
#
#   docker build -t exampleapp .
#   make image-check      # builds and runs it here without a Docker engine (buildah/podman)
#
# BASE_IMAGE must provide Python 3.11 (the version CI tests with) as `python3` with the venv
# module: python:3.11-slim in CI, a locally bootstrapped Debian bookworm (python3 is 3.11)
# where no registry is reachable. Both stages use the same base, so the virtualenv built in the
# first stage runs unchanged in the second.
ARG BASE_IMAGE=python:3.11-slim
# The web client is built with Node.js 20 (NODE_IMAGE); nothing of Node reaches the final image.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: a virtualenv with the pinned runtime requirements (without pip, and without the
# translation sources: only the compiled .mo files are read)
FROM ${BASE_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Requirements before the code: the dependency layer is reused until a pin changes. The lock
# pins every transitive dependency with its hashes (`make lock`).
COPY requirements/lock/production.txt requirements/lock/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes -r requirements/lock/production.txt \
    && /opt/venv/bin/pip uninstall --yes pip \
    && find /opt/venv -name '*.po' -delete
COPY manage.py ./
COPY exampleapp exampleapp
COPY apps apps

# --- schema: the OpenAPI document the web client's types are generated from, written by the
# code itself (no server runs during a build). Local settings need no services or secrets.
FROM deps AS schema
RUN DJANGO_SETTINGS_MODULE=exampleapp.settings.local VAR_DIR=/tmp/var STATIC_ROOT=/tmp/static \
    /opt/venv/bin/python manage.py spectacular --format openapi-json --file /tmp/openapi.json

# --- web: the client (web/, docs/web.md) built by Vite: hashed files and a manifest in dist/.
# `npm run build` type-checks it against the schema first, so a contract change fails here.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web ./
COPY --from=schema /tmp/openapi.json /tmp/openapi.json
RUN OPENAPI_SCHEMA=/tmp/openapi.json npm run build

# --- build: the code and the collected static files (the web client's build among them)
FROM deps AS build
COPY --from=web /web/dist web/dist
# Hashed, compressed static files (whitenoise's manifest storage) baked into the image, so
# /static/ can be served with far-future cache headers and fronted by a CDN. Production
# settings refuse to load without a strong SECRET_KEY and ALLOWED_HOSTS: a throwaway key,
# generated here and never stored, satisfies them for this one command. web/dist is only the
# collected copy's source: the pods serve the client from STATIC_ROOT (apps/common/web.py).
RUN SECRET_KEY="$(/opt/venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    ALLOWED_HOSTS=build.invalid \
    DJANGO_SETTINGS_MODULE=exampleapp.settings.production \
    STATIC_ROOT=/app/staticfiles \
    /opt/venv/bin/python manage.py collectstatic --noinput -v0 \
    && rm -rf web \
    && /opt/venv/bin/python -m compileall -q manage.py exampleapp apps

# --- runtime: the base image, the virtualenv and the code; nothing that compiles or installs
FROM ${BASE_IMAGE} AS runtime
ARG APP_UID=10001
RUN groupadd --gid "${APP_UID}" app \
    && useradd --uid "${APP_UID}" --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=exampleapp.settings.production \
    STATIC_ROOT=/app/staticfiles \
    TMPDIR=/tmp \
    PORT=8000
WORKDIR /app
# Owned by root and not writable by the app user: the code cannot be changed at run time, and
# the pod can run with a read-only root filesystem (only /tmp is writable, an emptyDir).
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
USER ${APP_UID}:${APP_UID}
EXPOSE 8000
# Kubernetes uses its own probes (deploy/kustomize); this one serves `docker run` and compose.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# Exec form: gunicorn is PID 1 and receives SIGTERM itself, so in-flight requests finish.
CMD ["gunicorn", "--config", "exampleapp/gunicorn.conf.py", "exampleapp.wsgi:application"]
