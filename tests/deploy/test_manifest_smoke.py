"""The rendered production manifests run against the code as it is (catches manifest/code drift).

The prod overlay is rendered with `kubectl kustomize` (the deploy virtualenv's kubectl, which
`make test` installs through `deploy-check`). For every Deployment of the app, the container's
own command, args and environment (ConfigMap values, the Secret's keys filled from the test
services, `env` entries with the kubelet's $(VAR) expansion) start gunicorn here, and each
declared probe must answer on its declared path and port the way the kubelet expects.

Also checked without a server: the ingress routes exactly the gateway's prefixes to the right
service, the Jobs name management commands that exist, the image's CMD is the Deployments'
command, and every variable the manifests set is one the app reads.
"""

from __future__ import annotations

import ast
import base64
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.services import executable, free_port, get
from scripts.services.gunicorn import ROOT
from tests.deploy.kube import kubectl
from tests.deploy.servers import gunicorn

OVERLAY = ROOT / "deploy" / "kustomize" / "overlays" / "prod"
# The gateway (exampleapp/urls.py) as the ingress must route it in production: prefix -> Service.
GATEWAY = {
    "/v1/auth": "identity",
    "/v1/users": "identity",
    "/v1/users/me/import": "identity",  # the uploads Ingress (archives are large)
    "/v1/todos": "todos",
    "/v1/notes": "notes",
    "/v1/files": "library",
    "/v1/sync": "library",
    "/v1/sync/events": "events",  # its own Ingress (no buffering, long timeouts)
}
# Which Service serves each app's routes (the library service also carries the sync feed).
SERVICE_OF_APP = {
    "identity": "identity",
    "portability": "identity",  # under /v1/users/me
    "todos": "todos",
    "notes": "notes",
    "library": "library",
    "sync": "library",
}
APP_DEPLOYMENTS = ["web", "identity", "todos", "notes", "library"]
# The live sync stream's process (uvicorn; tests/sync/test_events_stack.py runs it).
STREAM_DEPLOYMENTS = ["events"]
# Deployments of the app that serve no HTTP: they run a management command.
WORKER_DEPLOYMENTS = ["portability-worker"]
# What the cluster provides that this machine replaces with the test services (devservices).
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "REDIS_URL",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "S3_ADDRESSING_STYLE",
)
# Variables the manifests may set that the app does not read: the kubelet's helpers.
HELPER_VARIABLES = re.compile(r"^(POD_IP|CNPG_APP_\w+)$")


def render(overlay: Path) -> list[dict[str, Any]]:
    done = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render(OVERLAY)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"{kind} {name} is not in the rendered prod overlay")


def app_container(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    containers = spec["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "app")


def example_secret_keys() -> list[str]:
    text = (ROOT / "deploy" / "kustomize" / "base" / "secrets.example.env").read_text()
    return [line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")]


def secret_data(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    """A Secret as the pod would see it. Secrets made outside Git (exampleapp-secrets in staging
    and prod, the operator's exampleapp-db-app) get their documented keys with test values."""
    for obj in objects:
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == name:
            return {key: base64.b64decode(value).decode() for key, value in obj.get("data", {}).items()}
    if name == "exampleapp-secrets":
        return {key: "from-the-test-services" for key in example_secret_keys()} | {
            "SECRET_KEY": secrets.token_urlsafe(64)
        }
    if name == "exampleapp-db-app":  # CloudNativePG's application user secret (basic-auth)
        return {"username": "app", "password": "operator-generated", "dbname": "app"}
    raise AssertionError(f"unknown Secret {name}: add what it holds to this test")


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion: defined variables are replaced, $$ escapes, others stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, value)


def container_environment(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = find(objects, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        else:
            data = secret_data(objects, source["secretRef"]["name"])
        env.update({prefix + key: value for key, value in data.items()})
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = expand(entry["value"], env)
        elif "fieldRef" in entry["valueFrom"]:
            field = entry["valueFrom"]["fieldRef"]["fieldPath"]
            env[entry["name"]] = {"status.podIP": "127.0.0.1"}.get(field, f"field-{field}")
        else:
            env[entry["name"]] = "from-a-secret"
    return env


def probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def test_prod_secrets_stay_out_of_git(rendered: list[dict[str, Any]]) -> None:
    assert not [d["metadata"]["name"] for d in rendered if d["kind"] == "Secret"]


def test_the_app_runs_as_the_expected_deployments(rendered: list[dict[str, Any]]) -> None:
    names = sorted(
        d["metadata"]["name"]
        for d in rendered
        if d["kind"] == "Deployment" and d["metadata"]["labels"].get("app.kubernetes.io/name") == "exampleapp"
    )
    assert names == sorted(APP_DEPLOYMENTS + STREAM_DEPLOYMENTS + WORKER_DEPLOYMENTS)


@pytest.mark.parametrize("name", APP_DEPLOYMENTS)
def test_deployment_command_env_and_probes_work(
    rendered: list[dict[str, Any]], name: str, tmp_path: Path
) -> None:
    deployment = find(rendered, "Deployment", name)
    container = app_container(deployment)
    env = container_environment(rendered, container)

    for required in (
        "DJANGO_SETTINGS_MODULE",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "PORT",
        "DATABASE_URL",
        "REDIS_URL",
    ):
        assert env.get(required), f"{name}: the manifests do not set {required}"
    unresolved = {key: value for key, value in env.items() if _REFERENCE.search(value.replace("$$", ""))}
    assert not unresolved, f"{name}: $(VAR) references the kubelet cannot resolve: {unresolved}"
    assert env["DJANGO_SETTINGS_MODULE"] == "exampleapp.settings.production"

    probes = {
        kind: container[kind]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in container
    }
    assert {"livenessProbe", "readinessProbe"} <= probes.keys()
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind, probe in probes.items():
        # gunicorn binds PORT (exampleapp/gunicorn.conf.py): the probes must aim there.
        assert probe_port(container, probe) == int(env["PORT"]), f"{name} {kind} port != PORT"
        assert probe["httpGet"].get("scheme", "HTTP") == "HTTP"

    # Metrics have their own port, declared on the container and matching METRICS_PORT.
    assert int(env["METRICS_PORT"]) == next(
        p["containerPort"] for p in container["ports"] if p["name"] == "metrics"
    )
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/port") == env["METRICS_PORT"], f"{name}: scrape annotation"

    # Here the cluster's host names do not resolve: the test services stand in for them.
    services = {key: os.environ[key] for key in SERVICE_VARIABLES if key in os.environ}
    port, metrics_port = free_port(), free_port()
    local = {
        "PATH": os.environ["PATH"],
        **env,
        **services,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        # Keep local worker count modest; the pod derives it from its CPU quota.
        "GUNICORN_WORKERS": "1",
    }
    command = [executable(container["command"][0]), *container["command"][1:], *container.get("args", [])]
    with gunicorn(command, local, port, tmp_path / "gunicorn.log") as server:
        server.wait_serving(
            probes.get("startupProbe", probes["livenessProbe"])["httpGet"]["path"], timeout=30
        )
        for kind, probe in probes.items():
            http = probe["httpGet"]
            # The kubelet sends Host: <pod IP>:<port> plus any declared headers.
            headers = {"Host": f"127.0.0.1:{port}"} | {
                h["name"]: h["value"] for h in http.get("httpHeaders", [])
            }
            status, body = get(port, http["path"], headers, timeout=probe.get("timeoutSeconds", 1) + 1)
            assert status == 200, f"{name} {kind} {http['path']} -> {status}: {body[:300]!r}\n{server.tail()}"
        # /metrics answers on its own port only, and that port answers nothing else.
        pod_host = {"Host": "127.0.0.1"}
        status, body = get(metrics_port, "/metrics", pod_host)
        assert status == 200, (status, body[:300])
        assert b"django_http_requests_total_by_method_total" in body
        assert get(port, "/metrics", pod_host)[0] == 404
        assert get(metrics_port, "/v1/users/me", pod_host)[0] == 404
        assert server.terminate() == 0, server.tail()


@pytest.mark.parametrize("name", WORKER_DEPLOYMENTS)
def test_worker_deployment_runs_and_its_probes_answer(
    rendered: list[dict[str, Any]], name: str, tmp_path: Path
) -> None:
    """The worker's command with the container's environment (production settings, the test
    services for the cluster's): it starts, its probes pass once it beats, SIGTERM ends it with
    status 0."""
    deployment = find(rendered, "Deployment", name)
    container = app_container(deployment)
    assert container["command"][:2] == ["python", "manage.py"]
    from django.core.management import get_commands

    assert container["command"][2] in get_commands()
    env = container_environment(rendered, container)
    assert env["DJANGO_SETTINGS_MODULE"] == "exampleapp.settings.production"
    heartbeat = Path(env["PORTABILITY_WORKER_HEARTBEAT"])
    assert heartbeat.parent == Path("/tmp")
    local_heartbeat = tmp_path / heartbeat.name
    services = {key: os.environ[key] for key in SERVICE_VARIABLES if key in os.environ}
    local = {
        "PATH": os.environ["PATH"],
        **env,
        **services,
        "PORTABILITY_WORKER_HEARTBEAT": str(local_heartbeat),
    }
    probes = [
        container[kind]["exec"]["command"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    ]
    assert all(probe == probes[0] for probe in probes)
    probe = [part.replace(str(heartbeat), str(local_heartbeat)) for part in probes[0]]
    probe[0] = executable(probe[0])
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [executable(container["command"][0]), *container["command"][1:]],
            cwd=ROOT,
            env=local,
            stdout=output,
            stderr=output,
        )
        try:
            assert subprocess.run(probe, check=False).returncode != 0, (
                "the probe passed before the worker beat"
            )
            deadline = time.monotonic() + 60
            while subprocess.run(probe, check=False).returncode != 0:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, (
                    f"{name}: the probe never passed\n{log.read_text()[-3000:]}"
                )
                time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()


def test_ingress_routes_the_gateway(rendered: list[dict[str, Any]]) -> None:
    routes: dict[str, str] = {}
    for ingress in (d for d in rendered if d["kind"] == "Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"], f"Ingress {ingress['metadata']['name']} has no TLS"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["pathType"] == "Prefix"
                routes[path["path"]] = path["backend"]["service"]["name"]
    assert routes.pop("/") == "web"
    assert (
        routes.pop("/admin") == "web"
    )  # its own Ingress: test_admin_is_reachable_only_from_allowed_networks
    assert routes == GATEWAY

    # ... and the gateway in the code agrees: each /v1/<prefix> app include goes to its service.
    tree = ast.parse((ROOT / "exampleapp" / "urls.py").read_text())
    for call in (
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "path"
    ):
        route = call.args[0]
        if not (isinstance(route, ast.Constant) and str(route.value).startswith("v1/")):
            continue
        prefix = "/" + str(route.value)
        target = ast.unparse(call.args[1])
        app = re.search(r"apps\.(\w+)\.", target) or re.search(r"(\w+)_urlpatterns", target)
        if app is None or "include" not in target:
            continue  # schema and docs views: served by web
        owner = {
            "auth": "identity",
            "users": "identity",
            "export": "portability",
            "import": "portability",
        }.get(app.group(1), app.group(1))
        # Ingress paths are prefixes: the longest one that covers this route decides.
        covering = [p for p in GATEWAY if prefix == p or prefix.startswith(p + "/")]
        routed = GATEWAY[max(covering, key=len)] if covering else None
        assert routed == SERVICE_OF_APP[owner], f"{prefix} ({owner}) is not routed to its service"


def test_admin_is_reachable_only_from_allowed_networks(rendered: list[dict[str, Any]]) -> None:
    admin = find(rendered, "Ingress", "exampleapp-admin")
    ranges = admin["metadata"]["annotations"]["nginx.ingress.kubernetes.io/allowlist-source-range"]
    assert ranges
    assert "0.0.0.0/0" not in ranges
    [path] = [p for rule in admin["spec"]["rules"] for p in rule["http"]["paths"]]
    assert (path["path"], path["pathType"]) == ("/admin", "Prefix")
    # No other Ingress routes /admin itself (the longest prefix decides: "/" loses to "/admin").
    others = [d for d in rendered if d["kind"] == "Ingress" and d["metadata"]["name"] != "exampleapp-admin"]
    assert not [
        p
        for d in others
        for r in d["spec"]["rules"]
        for p in r["http"]["paths"]
        if p["path"].startswith("/admin")
    ]


def test_jobs_run_commands_that_exist(rendered: list[dict[str, Any]]) -> None:
    from django.core.management import get_commands

    available = get_commands()
    for job in (d for d in rendered if d["kind"] in ("Job", "CronJob")):
        command = app_container(job)["command"]
        assert command[:2] == ["python", "manage.py"], command
        assert command[2] in available, f"{job['kind']} {job['metadata']['name']}: no command {command[2]}"


def test_image_cmd_is_the_deployments_command(rendered: list[dict[str, Any]]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    container = app_container(find(rendered, "Deployment", "web"))
    assert yaml.safe_load(cmd[-1]) == container["command"] + container["args"]


@pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
def test_manifests_set_only_variables_the_app_reads(overlay: str) -> None:
    rendered = render(OVERLAY.parent / overlay)
    code = "".join(p.read_text() for p in (ROOT / "exampleapp" / "settings").glob("*.py"))
    code += (ROOT / "exampleapp" / "gunicorn.conf.py").read_text()
    read = set(re.findall(r"""env_\w+\(\s*["']([A-Z0-9_]+)["']""", code))
    read |= set(re.findall(r"""os\.environ\.get\(\s*["']([A-Z0-9_]+)["']""", code))
    read.add("DJANGO_SETTINGS_MODULE")
    workloads = [d for d in rendered if d["kind"] in ("Deployment", "Job", "CronJob")]
    workloads = [
        w for w in workloads if w["metadata"]["labels"].get("app.kubernetes.io/name") == "exampleapp"
    ]
    for workload in workloads:
        env = container_environment(rendered, app_container(workload))
        where = f"{overlay}: {workload['kind']} {workload['metadata']['name']}"
        unknown = {key for key in env if key not in read and not HELPER_VARIABLES.match(key)}
        assert not unknown, f"{where} sets what the app never reads: {unknown}"
        unresolved = {key: value for key, value in env.items() if _REFERENCE.search(value.replace("$$", ""))}
        assert not unresolved, f"{where}: $(VAR) references the kubelet cannot resolve: {unresolved}"
