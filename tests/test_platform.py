"""Cross-cutting behaviour: probes, metrics, request ids, errors, the schema."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


def test_healthz_does_no_io(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_cache_and_storage(api):
    response = api.get("/readyz", {"strict": "1"})
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert {name: check["ok"] for name, check in checks.items()} == {
        "database": True,
        "cache": True,
        "storage": True,
    }


def test_readyz_degrades_when_redis_is_unreachable(api):
    dead = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    with override_settings(CACHES=dead):  # Django rebuilds the cache handlers on this change
        lenient = api.get("/readyz")
        strict = api.get("/readyz", {"strict": "1"})
    assert lenient.status_code == 200
    assert lenient.json()["status"] == "degraded"
    assert lenient.json()["checks"]["cache"]["ok"] is False
    assert strict.status_code == 503


def test_metrics_are_prometheus_text(api):
    api.get("/healthz")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_request_id_is_generated_and_echoed(api):
    generated = api.get("/healthz")
    assert len(generated["X-Request-ID"]) == 32
    echoed = api.get("/healthz", HTTP_X_REQUEST_ID="client-trace-12345")
    assert echoed["X-Request-ID"] == "client-trace-12345"
    sanitized = api.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert sanitized["X-Request-ID"] != "bad id with spaces\n"


def test_logs_are_json_with_request_id(capsys):
    import logging

    from pythonjsonlogger.json import JsonFormatter

    from apps.common import context
    from apps.common.logging import RequestIdFilter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("exampleapp.test")
    logger.addHandler(handler)
    token = context.begin("req-abcdef12")
    try:
        logger.warning("hello")
    finally:
        context.end(token)
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["request_id"] == "req-abcdef12"


def test_unknown_route_is_problem_json(api):
    assert_problem(api.get("/v1/nope"), 404, "not_found")
    assert_problem(api.get("/v1/users/me/"), 404)  # canonical paths have no trailing slash


def test_wrong_method_and_bad_json_are_problem_json(account):
    assert_problem(account.client.put("/v1/auth/token", {}), 405, "method_not_allowed")
    bad = account.client.generic("PATCH", "/v1/users/me", "{not json", content_type="application/json")
    assert_problem(bad, 400, "parse_error")
    xml = account.client.generic("PATCH", "/v1/users/me", "<a/>", content_type="application/xml")
    assert_problem(xml, 415, "unsupported_media_type")


def test_schema_answers_json_and_covers_every_route(api):
    by_accept = api.get("/v1/schema", HTTP_ACCEPT="application/json")
    by_query = api.get("/v1/schema", {"format": "json"})
    assert by_accept.status_code == by_query.status_code == 200
    schema = json.loads(by_query.content)
    assert schema["openapi"].startswith("3.")
    from django.urls import get_resolver

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, route)
            else:
                yield route

    api_routes = {r for r in walk(get_resolver().url_patterns) if r.startswith("v1/") and not r.endswith("/")}
    api_routes -= {"v1/schema", "v1/docs", "v1/redoc", "v1/redoc/redoc.standalone.js"}
    # Parameter names may differ (drf-spectacular calls `pk` `id`): compare path shapes.
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in schema["paths"]}
    for route in api_routes:
        shape = "/" + re.sub(r"\(\?P<\w+>[^)]*\)", "{}", re.sub(r"<(?:\w+:)?\w+>", "{}", route))
        shape = shape.replace("^", "").replace("/?$", "").replace("$", "")
        assert shape in documented, f"{route} is missing from the OpenAPI schema"


def test_swagger_and_redoc_are_served_offline(api):
    """Nothing on the documentation pages comes from the internet: no absolute URL in the pages,
    and ReDoc's bundle (which would draw Redocly's logo from their CDN) is served patched."""
    for path in ("/v1/docs", "/v1/redoc"):
        page = api.get(path)
        assert page.status_code == 200
        assert re.findall(rb"https?://[^\s\"'<>]+", page.content) == [], path
    scripts = re.findall(r'<script src="([^"]+)"', api.get("/v1/redoc").content.decode())
    assert scripts == ["/v1/redoc/redoc.standalone.js"]
    bundle = api.get(scripts[0])
    assert bundle.status_code == 200
    assert bundle["Content-Type"].startswith("text/javascript")
    assert b"Redoc" in bundle.content
    assert b"cdn.redoc.ly" not in bundle.content


def test_cache_is_redis(settings):
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    cache.set("probe", 1)
    assert cache.get("probe") == 1


def test_oversized_json_body_is_413(account, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = '{"display_name": "' + "x" * 5000 + '"}'
    response = account.client.generic("PATCH", "/v1/users/me", big, content_type="application/json")
    assert_problem(response, 413, "request_too_large")
