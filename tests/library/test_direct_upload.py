"""Direct multipart uploads to the real S3 server: the parts are PUT with plain HTTP to the
presigned URLs, as a mobile client would. Resume, complete, dedup, abort, verification
failures, cleanup of stale uploads and orphan objects, BOLA."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from apps.library import multipart, objects, storage
from apps.library.models import File, Upload
from tests.conftest import Account, assert_problem

from . import factories
from .conftest import http, initiate, object_size, sha256, upload

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024


def put_part(url: str, data: bytes) -> str:
    status, headers, body = http("PUT", url, data)
    assert status == 200, body
    return headers["ETag"]


def test_full_flow_with_resume_after_a_missing_part(account: Account) -> None:
    data = factories.StreamedPdf(11 * MIB + 12345).read_all()
    with override_settings(DIRECT_UPLOAD_PART_BYTES=5 * MIB):
        started = initiate(account, data)
    assert started.status_code == 201, started.content
    assert started.json()["status"] == "created"
    assert started.json()["file"] is None
    job = started.json()["upload"]
    assert started["Location"] == f"/v1/files/uploads/{job['id']}"
    assert (job["part_size"], job["part_count"], job["status"]) == (5 * MIB, 3, "pending")
    assert [u["number"] for u in job["part_urls"]] == [1, 2, 3]
    assert [u["size"] for u in job["part_urls"]] == [5 * MIB, 5 * MIB, len(data) - 10 * MIB]
    expires = int(parse_qs(urlsplit(job["part_urls"][0]["url"]).query)["X-Amz-Expires"][0])
    assert expires <= 15 * 60

    chunks = {n: data[(n - 1) * 5 * MIB : n * 5 * MIB] for n in (1, 2, 3)}
    urls = {u["number"]: u["url"] for u in job["part_urls"]}
    put_part(urls[1], chunks[1])
    put_part(urls[3], chunks[3])

    incomplete = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    body = assert_problem(incomplete, 409, "upload_incomplete")
    assert body["missing_parts"] == [2]

    resumed = account.client.get(f"/v1/files/uploads/{job['id']}").json()
    assert resumed["status"] == "pending"
    assert [p["number"] for p in resumed["parts"]] == [1, 3]
    assert resumed["missing_parts"] == [2]
    assert [u["number"] for u in resumed["part_urls"]] == [2]
    assert [item["id"] for item in account.client.get("/v1/files/uploads").json()["results"]] == [job["id"]]
    put_part(resumed["part_urls"][0]["url"], chunks[2])

    done = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    assert done.status_code == 201, done.content
    file = done.json()
    assert file["id"] == job["file_id"]
    assert (file["kind"], file["size"], file["sha256"]) == ("pdf", len(data), sha256(data))
    assert file["name"] == "Big book.pdf"
    assert file["metadata"]["page_count"] == 1
    assert object_size(file["id"]) == len(data)
    assert File.objects.get(id=file["id"]).storage_key == Upload.objects.get(id=job["id"]).storage_key
    # Completing again is harmless and answers with the same file.
    again = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    assert again.status_code == 200
    assert again.json()["id"] == file["id"]
    finished = account.client.get(f"/v1/files/uploads/{job['id']}").json()
    assert finished["status"] == "completed"
    assert finished["file"]["id"] == file["id"]
    assert account.client.get("/v1/files/uploads").json()["results"] == []


def test_small_file_in_one_part_with_client_chosen_id(account: Account) -> None:
    data = factories.epub_bytes()
    chosen = str(uuid.uuid4())
    job = initiate(
        account, data, id=chosen, name="Novel.epub", content_type=None, type="application/epub+zip"
    )
    assert job.status_code == 201, job.content
    upload_json = job.json()["upload"]
    assert upload_json["part_count"] == 1
    put_part(upload_json["part_urls"][0]["url"], data)
    done = account.client.post(f"/v1/files/uploads/{upload_json['id']}/complete")
    assert done.status_code == 201
    assert done.json()["id"] == chosen
    assert done.json()["kind"] == "epub"


def test_initiate_says_exists_when_the_caller_has_the_bytes(account: Account, other_account: Account) -> None:
    data = factories.pdf_bytes()
    mine = upload(account.client, data).json()
    exists = initiate(account, data)
    assert exists.status_code == 200
    assert exists.json()["status"] == "exists"
    assert exists.json()["file"]["id"] == mine["id"]
    assert exists.json()["upload"] is None
    # Dedup is per user: someone else with the same hash gets an ordinary upload.
    theirs = initiate(other_account, data)
    assert theirs.status_code == 201
    assert theirs.json()["status"] == "created"


def test_abort(account: Account) -> None:
    data = factories.pdf_bytes()
    job = initiate(account, data).json()["upload"]
    put_part(job["part_urls"][0]["url"], data)
    assert account.client.delete(f"/v1/files/uploads/{job['id']}").status_code == 204
    row = Upload.objects.get(id=job["id"])
    assert row.status == "aborted"
    with pytest.raises(multipart.UploadGone):
        multipart.list_parts(row.storage_key, upload_id=row.s3_upload_id)
    assert account.client.get(f"/v1/files/uploads/{job['id']}").json()["status"] == "aborted"
    assert_problem(account.client.post(f"/v1/files/uploads/{job['id']}/complete"), 409, "upload_not_pending")
    assert account.client.delete(f"/v1/files/uploads/{job['id']}").status_code == 204


def test_checksum_mismatch_fails_the_upload_and_deletes_the_object(account: Account) -> None:
    data = factories.pdf_bytes()
    job = initiate(account, data, sha256=sha256(b"something else")).json()["upload"]
    put_part(job["part_urls"][0]["url"], data)
    assert_problem(account.client.post(f"/v1/files/uploads/{job['id']}/complete"), 422, "checksum_mismatch")
    row = Upload.objects.get(id=job["id"])
    assert (row.status, row.error) == ("failed", "checksum_mismatch")
    assert objects.object_size(row.storage_key) is None
    assert not File.objects.filter(owner_id=account.id).exists()


def test_a_part_url_stores_exactly_its_part_size(account: Account) -> None:
    """Issue 12: an upload declared as 454 bytes took a 6 MiB part, twice, and usage still
    said 454. The URL signs the part's Content-Length: S3 refuses any other length."""
    data = factories.pdf_bytes()
    job = initiate(account, data).json()["upload"]
    url = job["part_urls"][0]["url"]
    assert "content-length" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")
    for wrong in (b"x" * (6 * MIB), data[:-10], data + b"\n"):
        status, _, body = http("PUT", url, wrong)
        assert status == 403, (len(wrong), body[:200])
    row = Upload.objects.get(id=job["id"])
    assert multipart.list_parts(row.storage_key, upload_id=row.s3_upload_id) == []
    assert_problem(account.client.post(f"/v1/files/uploads/{job['id']}/complete"), 409, "upload_incomplete")
    put_part(url, data)
    assert account.client.post(f"/v1/files/uploads/{job['id']}/complete").status_code == 201


def test_no_url_stores_a_part_the_upload_does_not_have(account: Account) -> None:
    data = factories.pdf_bytes()
    job = initiate(account, data).json()["upload"]
    assert [part["number"] for part in job["part_urls"]] == [1]
    url = job["part_urls"][0]["url"]
    extra = url.replace("partNumber=1&", "partNumber=2&")
    assert extra != url
    status, _, _ = http("PUT", extra, data)
    assert status == 403
    row = Upload.objects.get(id=job["id"])
    assert multipart.list_parts(row.storage_key, upload_id=row.s3_upload_id) == []


def test_pending_uploads_count_against_the_quota_by_their_declared_size(account: Account) -> None:
    data = factories.pdf_bytes()
    with override_settings(USER_STORAGE_QUOTA_BYTES=len(data) * 2 + 10):
        assert initiate(account, data).status_code == 201
        assert initiate(account, data + b"%%pad").status_code == 201
        assert account.client.get("/v1/users/me").json()["storage"]["used_bytes"] == len(data) * 2 + 5
        assert_problem(initiate(account, data + b"%%more pad"), 413, "quota_exceeded")


def test_type_is_decided_by_the_bytes_at_completion(account: Account) -> None:
    job = initiate(account, factories.EXE, name="report.pdf").json()["upload"]
    put_part(job["part_urls"][0]["url"], factories.EXE)
    body = assert_problem(
        account.client.post(f"/v1/files/uploads/{job['id']}/complete"), 415, "unsupported_file_type"
    )
    assert body["reason"] == "unrecognised"
    assert objects.object_size(Upload.objects.get(id=job["id"]).storage_key) is None

    bomb = factories.epub_bytes(container=factories.BILLION_LAUGHS)
    job = initiate(account, bomb, content_type="application/epub+zip").json()["upload"]
    put_part(job["part_urls"][0]["url"], bomb)
    body = assert_problem(account.client.post(f"/v1/files/uploads/{job['id']}/complete"), 415)
    assert body["reason"] == "xml_entities"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"content_type": "image/svg+xml"}, 415, "unsupported_file_type"),
        ({"size": 3 * 1024**3}, 413, "file_too_large"),
        ({"size": 0}, 400, "validation_error"),
        ({"sha256": "xyz"}, 400, "validation_error"),
        ({"content_type": None}, 400, "validation_error"),
    ],
)
def test_initiate_validation(account: Account, overrides: dict[str, Any], status: int, code: str) -> None:
    body = {k: v for k, v in overrides.items() if v is not None}
    dropped = [k for k, v in overrides.items() if v is None]
    payload = {"name": "x.pdf", "size": 100, "sha256": "a" * 64, "content_type": "application/pdf", **body}
    for key in dropped:
        payload.pop(key)
    assert_problem(account.client.post("/v1/files/uploads", payload, format="json"), status, code)


def test_direct_upload_needs_s3(account: Account, local_storage: Any) -> None:
    assert_problem(initiate(account, factories.pdf_bytes()), 501, "direct_upload_unavailable")


def test_cleanup_aborts_stale_uploads_and_deletes_orphans(account: Account, uploaded: Any) -> None:
    kept = uploaded()
    stale = initiate(account, factories.pdf_bytes()).json()["upload"]
    fresh = initiate(account, factories.pdf_bytes()).json()["upload"]
    Upload.objects.filter(id=stale["id"]).update(created_at=timezone.now() - timedelta(hours=25))
    stale_row = Upload.objects.get(id=stale["id"])
    orphan = storage.new_key(account.id)
    target = storage.s3()
    target.client.put_object(Bucket=target.bucket, Key=orphan, Body=b"left behind by a crash")
    # An S3 multipart upload nobody recorded (a crash between S3 and the database).
    unknown = multipart.multipart_create(storage.new_key(account.id), content_type="application/pdf")

    out = StringIO()
    call_command("cleanup_uploads", user=account.id, stdout=out)
    assert "uploads aborted: 1" in out.getvalue()
    assert not Upload.objects.filter(id=stale["id"]).exists()
    assert Upload.objects.filter(id=fresh["id"]).exists()
    with pytest.raises(multipart.UploadGone):
        multipart.list_parts(stale_row.storage_key, upload_id=stale_row.s3_upload_id)
    assert objects.object_size(orphan) is not None  # too young to be called an orphan

    out = StringIO()
    call_command("cleanup_uploads", user=account.id, hours=0, stdout=out)
    assert "orphan objects deleted: 1" in out.getvalue()
    assert objects.object_size(orphan) is None
    assert object_size(kept["id"]) == kept["size"]
    remaining = {
        upload_id for _, upload_id in storage.list_multipart_uploads(storage.owner_prefix(account.id))
    }
    assert unknown not in remaining


def test_another_users_upload_is_404(account: Account, other_account: Account) -> None:
    job = initiate(account, factories.pdf_bytes()).json()["upload"]
    base = f"/v1/files/uploads/{job['id']}"
    assert_problem(other_account.client.get(base), 404, "not_found")
    assert_problem(other_account.client.delete(base), 404, "not_found")
    assert_problem(other_account.client.post(f"{base}/complete"), 404, "not_found")
    assert other_account.client.get("/v1/files/uploads").json()["results"] == []
    assert Upload.objects.get(id=job["id"]).status == "pending"
