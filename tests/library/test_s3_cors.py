"""`manage.py s3_cors`: the bucket answers the web client's origins (S3_CORS_ORIGINS) for what
the page does with presigned URLs — GET a file's bytes, PUT a direct upload's parts and read
their ETag — and nobody else. Checked with real preflights against SeaweedFS."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command

from apps.library import storage

from .conftest import http

pytestmark = pytest.mark.django_db
WEB = "https://app.example.org"


def _rules() -> list[dict[str, Any]]:
    target = storage.s3()
    try:
        return list(target.storage.connection.meta.client.get_bucket_cors(Bucket=target.bucket)["CORSRules"])
    except ClientError:
        return []


@pytest.fixture
def bucket_cors() -> Iterator[None]:
    """The bucket's CORS rules are the bucket's: put back what was there."""
    before = _rules()
    yield
    target = storage.s3()
    client = target.storage.connection.meta.client
    if before:
        client.put_bucket_cors(Bucket=target.bucket, CORSConfiguration={"CORSRules": before})
    else:
        client.delete_bucket_cors(Bucket=target.bucket)


def _run(*origins: str) -> str:
    out = StringIO()
    call_command("s3_cors", *[f"--origin={origin}" for origin in origins], stdout=out)
    return out.getvalue()


def _preflight(url: str, origin: str, method: str) -> dict[str, str]:
    status, headers, _ = http(
        "OPTIONS", url, headers={"Origin": origin, "Access-Control-Request-Method": method}
    )
    return headers if status == 200 else {}


def test_the_web_origin_may_read_and_put_and_no_other(bucket_cors: None) -> None:
    assert "updated" in _run(WEB)
    assert "unchanged" in _run(WEB)  # idempotent: each deployment runs it
    key = storage.new_key("00000000-0000-4000-8000-000000000001")
    url = storage.download_url(key, filename="a.pdf", content_type="application/pdf")
    for method in ("GET", "PUT", "HEAD"):
        allowed = _preflight(url, WEB, method)
        assert allowed.get("Access-Control-Allow-Origin") == WEB, (method, allowed)
    assert "ETag" in allowed["Access-Control-Expose-Headers"]
    assert _preflight(url, "https://evil.example", "GET").get("Access-Control-Allow-Origin") is None
    # A browser sends only what Allow-Methods lists (S3 servers differ in whether they answer a
    # preflight for another method at all).
    assert "DELETE" not in _preflight(url, WEB, "DELETE").get("Access-Control-Allow-Methods", "")


def test_an_operators_own_rules_stay(bucket_cors: None) -> None:
    target = storage.s3()
    theirs = {"ID": "cdn", "AllowedOrigins": ["https://cdn.example"], "AllowedMethods": ["GET"]}
    target.storage.connection.meta.client.put_bucket_cors(
        Bucket=target.bucket, CORSConfiguration={"CORSRules": [theirs]}
    )
    _run(WEB, "http://localhost:5173")
    rules = {rule.get("ID"): rule for rule in _rules()}
    assert rules["cdn"]["AllowedOrigins"] == ["https://cdn.example"]
    assert rules["exampleapp-web"]["AllowedOrigins"] == ["http://localhost:5173", WEB]
    _run()  # no origins: ours goes, theirs stays
    assert [rule.get("ID") for rule in _rules()] == ["cdn"]


def test_local_storage_needs_no_rule(local_storage: Any) -> None:
    assert "no CORS rule needed" in _run(WEB)


def test_the_migrate_job_runs_migrate_then_the_cors_rule(bucket_cors: None, settings: Any) -> None:
    """`manage.py release` (the migrate Job's command): nothing left to migrate here, and the
    rule comes from S3_CORS_ORIGINS."""
    settings.S3_CORS_ORIGINS = [WEB]
    out = StringIO()
    call_command("release", stdout=out)
    assert "No migrations to apply" in out.getvalue()
    assert "bucket CORS updated: origins https://app.example.org" in out.getvalue()
    assert [rule["AllowedOrigins"] for rule in _rules()] == [[WEB]]
