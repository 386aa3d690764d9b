"""Headers and configuration of the running app (gunicorn, production settings, as a pod runs
it): HSTS, nosniff, frame denial and referrer policy on every response, CORS only for the
configured origins, and no stack trace or setting in any error body. `check --deploy` being
clean is tested in tests/test_settings.py."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

from scripts.services import Gunicorn, executable, free_port
from tests.deploy.servers import gunicorn, production_env

ALLOWED_ORIGIN = "https://app.example.org"
LEAKS = (
    "Traceback",
    'File "',
    "/work/",
    "site-packages",
    "SECRET_KEY",
    "DATABASE",
    "hunter2",
    "postgresql://",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    port = free_port()
    env = production_env(port, CORS_ALLOWED_ORIGINS=ALLOWED_ORIGIN, GUNICORN_WORKERS="2")
    log = Path(tmp_path_factory.mktemp("headers")) / "gunicorn.log"
    command = [
        executable("gunicorn"),
        "--config",
        "exampleapp/gunicorn.conf.py",
        "exampleapp.wsgi:application",
    ]
    with gunicorn(command, env, port, log) as running:
        running.wait_serving(timeout=30)
        yield running


def _request(
    server: Gunicorn, method: str, path: str, headers: dict | None = None, body: bytes | None = None
):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


PATHS = [
    ("GET", "/healthz", None, None),
    ("GET", "/v1/schema?format=json", None, None),
    ("GET", "/v1/users/me", None, None),  # 401
    ("GET", "/v1/no-such-route", None, None),  # 404
    ("DELETE", "/v1/auth/token", None, None),  # 405
    ("POST", "/v1/auth/token", {"Content-Type": "application/json"}, b'{"email": '),  # 400 malformed
    ("POST", "/v1/auth/token", {"Content-Type": "application/json"}, b"x" * (3 * 1024 * 1024)),  # 413
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"), PATHS, ids=[f"{m} {p}" for m, p, _, _ in PATHS]
)
def test_security_headers_on_every_response(server, method, path, headers, body):
    status, answer, _ = _request(server, method, path, headers, body)
    assert status < 500
    assert answer["strict-transport-security"].startswith("max-age=31536000")
    assert "includeSubDomains" in answer["strict-transport-security"]
    assert answer["x-content-type-options"] == "nosniff"
    assert answer["x-frame-options"] == "DENY"
    assert answer["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"), PATHS[2:], ids=[f"{m} {p}" for m, p, _, _ in PATHS[2:]]
)
def test_error_bodies_are_problems_without_internals(server, method, path, headers, body):
    status, answer, content = _request(server, method, path, headers, body)
    assert 400 <= status < 500
    assert answer["content-type"].startswith("application/problem+json")
    problem = json.loads(content)
    assert {"type", "title", "status", "detail", "code"} <= problem.keys()
    text = content.decode()
    assert not [leak for leak in LEAKS if leak in text], text


def test_cors_only_for_configured_origins(server):
    _, allowed, _ = _request(server, "GET", "/healthz", {"Origin": ALLOWED_ORIGIN})
    assert allowed["access-control-allow-origin"] == ALLOWED_ORIGIN
    _, other, _ = _request(server, "GET", "/healthz", {"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in other
    preflight = {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "DELETE"}
    _, refused, _ = _request(server, "OPTIONS", "/v1/todos", preflight)
    assert "access-control-allow-origin" not in refused
    good_preflight = {
        **preflight,
        "Origin": ALLOWED_ORIGIN,
        "Access-Control-Request-Headers": "authorization",
    }
    _, granted, _ = _request(server, "OPTIONS", "/v1/todos", good_preflight)
    assert granted["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in granted  # bearer tokens, no cookies


@override_settings(ROOT_URLCONF="tests.security.boom_urls", DEBUG=False)
def test_unexpected_error_shows_no_internals():
    response = Client(raise_request_exception=False).get("/boom")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/problem+json")
    text = response.content.decode()
    assert response.json()["code"] == "server_error"
    assert not [leak for leak in LEAKS if leak in text], text
