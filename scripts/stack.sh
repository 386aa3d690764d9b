#!/usr/bin/env bash
# `make stack`: the production-like setup on this machine. Runs inside scripts/devservices.py,
# which has started PostgreSQL (primary + replica), Redis and S3 and exported their URLs.
# Three processes, as three Deployments run them: gunicorn (the API) on PORT, the events process
# (uvicorn: the live sync stream, GET /v1/sync/events) on EVENTS_PORT, both on the same Redis,
# and the export/import worker (manage.py portability_worker; docs/export.md).
# Ctrl-C or SIGTERM stops them; devservices then stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export DJANGO_SETTINGS_MODULE=exampleapp.settings.production
export SECRET_KEY=${SECRET_KEY:-$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(64))')}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1}
export PORT=${PORT:-8000}
EVENTS_PORT=${EVENTS_PORT:-$((PORT + 1))}
# Plain HTTP on loopback: no TLS redirect and no HSTS here (the ingress does TLS in a cluster).
export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-false}
export STATIC_ROOT=${STATIC_ROOT:-$PWD/staticfiles}
$BIN/python manage.py migrate --noinput
$BIN/python manage.py collectstatic --noinput -v0
$BIN/python manage.py s3_cors --origin "http://127.0.0.1:$PORT" --origin "http://localhost:$PORT"
cat <<INFO
------------------------------------------------------------------------
ExampleApp (production settings) on http://127.0.0.1:$PORT
  API docs   http://127.0.0.1:$PORT/v1/docs      schema /v1/schema
  probes     http://127.0.0.1:$PORT/healthz  /readyz  /metrics
  live sync  http://127.0.0.1:$EVENTS_PORT/v1/sync/events   (the events process; an ingress routes it)
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
PORT=$EVENTS_PORT METRICS_PORT= $BIN/python manage.py events --host 127.0.0.1 &
EVENTS_PID=$!
$BIN/python manage.py portability_worker &
WORKER_PID=$!
PIDS="$EVENTS_PID $WORKER_PID"
# With nginx installed, one origin as in a cluster: the Ingress on PORT sends /v1/sync/events to
# the events process and the rest to gunicorn (on PORT + 2), so the web client hears its live
# stream. Without it, gunicorn answers on PORT and the client polls (503 events_unavailable).
if [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null; then
  API_PORT=$((PORT + 2))
  $BIN/python -m scripts.services.ingress --port "$PORT" --api "$API_PORT" --events "$EVENTS_PORT" &
  PIDS="$PIDS $!"
  echo "ingress (nginx) on http://127.0.0.1:$PORT: /v1/sync/events -> :$EVENTS_PORT, the rest -> gunicorn on :$API_PORT"
  export PORT=$API_PORT
fi
trap 'kill -TERM $PIDS 2>/dev/null; wait $PIDS 2>/dev/null' EXIT
$BIN/gunicorn -c exampleapp/gunicorn.conf.py exampleapp.wsgi:application
