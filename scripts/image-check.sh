#!/usr/bin/env bash
# `make image-check`: build the Dockerfile without a Docker engine and run the image the way the
# cluster does (non-root, read-only root filesystem, only /tmp writable, no capabilities).
#
#   scripts/image-check.sh build   # buildah; base image bootstrapped with debootstrap, cached
#   scripts/image-check.sh run     # inside scripts/devservices.py: migrate, serve, probe, API call
#
# No registry is reachable here, so the base image is Debian bookworm (python3 is 3.11, like CI)
# made with debootstrap and imported into local container storage, then passed as BASE_IMAGE.
# Everything lives under $IMAGE_CACHE (outside the repository), so later runs reuse the base
# image and the dependency layer. Needs root and the Debian packages buildah, podman, runc and
# debootstrap (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_CACHE=${IMAGE_CACHE:-/var/tmp/exampleapp-images}
BASE_TAG=${BASE_TAG:-localhost/exampleapp-base:bookworm}
NODE_TAG=${NODE_TAG:-localhost/exampleapp-node:bookworm}
IMAGE_TAG=${IMAGE_TAG:-localhost/exampleapp:check}
APP_UID=10001
CONTAINER=exampleapp-check-$$
export CONTAINERS_STORAGE_CONF=$IMAGE_CACHE/storage.conf CONTAINERS_CONF=$IMAGE_CACHE/containers.conf

say() { printf '[image-check] %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  for tool in buildah podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ]; then
    say "missing ${missing[*]}: apt-get install buildah podman runc debootstrap (as root)"; exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah podman runc debootstrap
}

write_conf() {
  mkdir -p "$IMAGE_CACHE"
  # runc, not crun (crun refuses hybrid cgroup hosts); small ulimits because root here cannot
  # raise the hard limits podman asks for by default; host networking, no CNI bridge left behind.
  cat > "$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$IMAGE_CACHE/storage"
runroot = "$IMAGE_CACHE/run"
EOF
  cat > "$CONTAINERS_CONF" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$IMAGE_CACHE/events.log"
runtime = "runc"
EOF
}

build_base() {
  if podman image exists "$BASE_TAG"; then return; fi
  local rootfs=$IMAGE_CACHE/rootfs mirror
  if [ ! -x "$rootfs/usr/bin/python3" ]; then
    rm -rf "$rootfs"
    # The mirror this machine's apt already uses (deb822 or classic sources).
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
    say "bootstrapping Debian bookworm from $mirror (about a minute, once)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$rootfs" "$mirror" > "$IMAGE_CACHE/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  fi
  # Machines behind a TLS-inspecting proxy add their CA to the system store; pip inside the
  # build trusts the system store, so carry those extra CAs into the local base (a normal CI
  # machine has none and builds FROM python:3.11-slim anyway).
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_TAG" >/dev/null
}

# The Dockerfile's web stage needs Node.js 20, and no registry serves node:20 here: the local
# base plus this machine's own Node.js (the one `make test` builds the client with) and npm.
build_node() {
  if podman image exists "$NODE_TAG"; then return; fi
  local node npm_dir
  node=$(command -v node) || { say "Node.js is missing: the web stage needs it (docs/web.md)"; exit 1; }
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  say "making $NODE_TAG from $BASE_TAG with $node ($("$node" --version)) and $npm_dir"
  local ctr
  ctr=$(buildah from --quiet "$BASE_TAG")
  buildah copy --quiet "$ctr" "$node" /usr/local/bin/node >/dev/null
  buildah copy --quiet "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
  buildah run "$ctr" ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  # Node.js trusts its own CA bundle, not the system's: point it at the system store, which
  # build_base gave this machine's extra CAs (a TLS-inspecting proxy's) on such machines.
  buildah config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$ctr"
  buildah commit --quiet "$ctr" "$NODE_TAG" >/dev/null
  buildah rm "$ctr" >/dev/null
}

cmd_build() {
  ensure_tools
  write_conf
  local started=$SECONDS
  build_base
  build_node
  say "building $IMAGE_TAG FROM $BASE_TAG (web stage FROM $NODE_TAG)"
  buildah bud --isolation chroot --layers --quiet --format docker \
    --build-arg "BASE_IMAGE=$BASE_TAG" --build-arg "NODE_IMAGE=$NODE_TAG" --build-arg "APP_UID=$APP_UID" \
    -t "$IMAGE_TAG" . > "$IMAGE_CACHE/build.log"
  # Drop superseded builds after a day; recent untagged images are the build stage's layer
  # cache (dependencies are reinstalled only when a requirements file changes).
  podman image prune -f --filter until=24h > /dev/null
  local bytes
  bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE_TAG")
  say "built in $((SECONDS - started)) s; image size $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_run() {
  : "${DATABASE_URL:?run inside scripts/devservices.py (make image-check does)}"
  write_conf
  local port started=$SECONDS secret
  port=$(free_port)
  secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')
  # The pod's constraints: non-root, read-only root, only /tmp writable, no capabilities.
  local run_flags=(
    --network host --no-healthcheck --user "$APP_UID:$APP_UID" --read-only --read-only-tmpfs=false
    --tmpfs "/tmp:rw,size=256m,mode=1777" --cap-drop ALL --security-opt no-new-privileges
    --cpus 1 --memory 768m
    -e DATABASE_URL -e DATABASE_REPLICA_URLS -e REDIS_URL
    -e S3_BUCKET -e S3_ENDPOINT_URL -e S3_ACCESS_KEY_ID -e S3_SECRET_ACCESS_KEY -e S3_REGION
    -e "SECRET_KEY=$secret" -e "ALLOWED_HOSTS=127.0.0.1,localhost" -e "PORT=$port"
    -e SECURE_SSL_REDIRECT=false
  )
  say "migrating"
  podman run --rm "${run_flags[@]}" "$IMAGE_TAG" python manage.py migrate --noinput -v0
  say "serving on 127.0.0.1:$port as uid $APP_UID, read-only root"
  trap 'podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true' EXIT
  podman run -d --name "$CONTAINER" "${run_flags[@]}" "$IMAGE_TAG" > /dev/null
  python3 - "$port" <<'PY' || { podman logs --tail 40 "$CONTAINER" >&2; say "FAILED"; exit 1; }
"""Probe the running image like the kubelet, then make one real API call (register + login)."""
import json, sys, time, urllib.error, urllib.request, uuid

base = f"http://127.0.0.1:{sys.argv[1]}"

def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300]

deadline = time.monotonic() + 60
while True:
    try:
        status, body = call("/healthz")
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("image-check: gunicorn did not answer within 60 s")
        time.sleep(0.25)
assert status == 200 and body == {"status": "ok"}, (status, body)
status, body = call("/readyz?strict=1")
assert status == 200 and body["status"] == "ok", (status, body)
email, password = f"image-check-{uuid.uuid4().hex[:8]}@example.org", "image-check-" + uuid.uuid4().hex
status, body = call("/v1/auth/register", {"email": email, "password": password})
assert status == 201, (status, body)
status, body = call("/v1/auth/token", {"email": email, "password": password})
assert status == 200 and {"access", "refresh"} <= body.keys(), (status, body)
# The web client, built in the image's Node stage: its page (strict CSP, not cached) and the
# entry script it names (collected, cached for good).
page = urllib.request.urlopen(urllib.request.Request(base + "/", headers={"Accept": "text/html"}), timeout=5)
html = page.read().decode()
assert "script-src 'self'" in page.headers["Content-Security-Policy"], page.headers
assert "no-cache" in page.headers["Cache-Control"], page.headers
script = html.split('<script type="module" src="', 1)[1].split('"', 1)[0]
asset = urllib.request.urlopen(base + script, timeout=5)
assert asset.status == 200 and "immutable" in asset.headers["Cache-Control"], (script, asset.headers)
print("[image-check] /healthz 200, /readyz?strict=1 200 (database, cache, storage), register 201, login 200, "
      f"web client / 200 (CSP, no-cache) and {script} (immutable)", file=sys.stderr)
PY
  local workers quota
  workers=$(podman logs "$CONTAINER" 2>&1 | grep -c 'Booting worker' || true)
  quota=$(podman exec "$CONTAINER" python -c 'import runpy; print(runpy.run_path("exampleapp/gunicorn.conf.py")["cpu_quota"]())')
  say "gunicorn booted $workers workers; CPU quota seen in the container: $quota"
  [ "$(podman exec "$CONTAINER" id -u)" = "$APP_UID" ] || { say "not running as uid $APP_UID"; exit 1; }
  if podman exec "$CONTAINER" sh -c 'touch /app/x || touch /x || touch /opt/venv/x' 2>/dev/null; then
    say "the root filesystem is writable"; exit 1
  fi
  say "runs as uid $APP_UID; root filesystem and code not writable"
  podman stop -t 40 "$CONTAINER" > /dev/null
  local code
  code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
  [ "$code" = 0 ] || { podman logs --tail 30 "$CONTAINER" >&2; say "gunicorn exited $code after SIGTERM"; exit 1; }
  say "SIGTERM: gunicorn exited 0; checked in $((SECONDS - started)) s"
}

case "${1:-}" in
  build) cmd_build ;;
  run) cmd_run ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
