#!/usr/bin/env bash
# `make stack`: the production-like setup on this machine. Runs inside scripts/devservices.py,
# which has started PostgreSQL (primary + replica), Redis and S3 and exported their URLs.
# gunicorn serves the API; beside it the export/import worker runs, as its own Deployment does in
# a cluster (docs/export.md). Ctrl-C or SIGTERM stops both; devservices then stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export DJANGO_SETTINGS_MODULE=exampleapp.settings.production
export SECRET_KEY=${SECRET_KEY:-$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(64))')}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1}
export PORT=${PORT:-8000}
# Plain HTTP on loopback: no TLS redirect and no HSTS here (the ingress does TLS in a cluster).
export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-false}
export STATIC_ROOT=${STATIC_ROOT:-$PWD/staticfiles}
$BIN/python manage.py migrate --noinput
$BIN/python manage.py collectstatic --noinput -v0
cat <<INFO
------------------------------------------------------------------------
ExampleApp (production settings) on http://127.0.0.1:$PORT
  API docs   http://127.0.0.1:$PORT/v1/docs      schema /v1/schema
  probes     http://127.0.0.1:$PORT/healthz  /readyz  /metrics
Environment:
  DJANGO_SETTINGS_MODULE=$DJANGO_SETTINGS_MODULE
  DATABASE_URL=$DATABASE_URL
  DATABASE_REPLICA_URLS=$DATABASE_REPLICA_URLS
  REDIS_URL=$REDIS_URL
  S3_ENDPOINT_URL=$S3_ENDPOINT_URL  S3_BUCKET=$S3_BUCKET
  ALLOWED_HOSTS=$ALLOWED_HOSTS  PORT=$PORT  SECRET_KEY=(generated for this run)
Exports and imports (POST /v1/users/me/export): run by manage.py portability_worker, started here.
Ctrl-C stops everything.
------------------------------------------------------------------------
INFO
$BIN/python manage.py portability_worker &
worker=$!
$BIN/gunicorn -c exampleapp/gunicorn.conf.py exampleapp.wsgi:application &
server=$!
trap 'kill -TERM "$server" "$worker" 2>/dev/null' TERM INT
status=0
# A trapped signal ends `wait` early (passing the signal on): wait again until gunicorn is gone.
while kill -0 "$server" 2>/dev/null; do
    if wait "$server"; then status=0; else status=$?; fi
done
kill -TERM "$worker" 2>/dev/null || true
wait "$worker" || true
exit "$status"
