"""/metrics (per-view traffic, exception class names) is for the cluster only: with METRICS_PORT
set it answers only on that port, which no Service or Ingress routes, and that port answers
nothing else. tests/deploy/test_manifest_smoke.py checks the same against real gunicorn with
the rendered manifests."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@override_settings(METRICS_PORT=9100)
def test_metrics_only_on_their_port() -> None:
    client = Client()
    assert client.get("/metrics", SERVER_PORT="8000").status_code == 404  # the app's port
    scraped = client.get("/metrics", SERVER_PORT="9100")
    assert scraped.status_code == 200
    assert b"django_http_requests_total_by_method_total" in scraped.content
    assert client.get("/healthz", SERVER_PORT="9100").status_code == 404
    assert client.get("/healthz", SERVER_PORT="8000").status_code == 200


def test_readiness_names_no_exception(api: Any, settings: Any) -> None:
    """/readyz is public: a failed dependency is "unavailable", its exception is in the log."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "nope",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "x",
                "secret_key": "y",
            },
        },
    }
    body = api.get("/readyz").json()
    assert body["checks"]["storage"] == {
        "ok": False,
        "ms": body["checks"]["storage"]["ms"],
        "error": "unavailable",
    }
