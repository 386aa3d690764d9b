"""POST /v1/users/me/export and the export resource: the job's life through the API, who may see
it, one at a time and a few a day, the download (presigned on S3, streamed on local storage),
an archive larger than a multipart part, a file deleted while the export runs, expiry and the
account purge, and what it costs in queries."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.identity import services as identity_services
from apps.library import storage
from apps.library.models import File
from apps.portability import archive, services
from apps.portability.models import Job
from tests.conftest import Account, assert_problem
from tests.library import factories
from tests.library.conftest import local_storage, upload  # noqa: F401 - the fixture is used below

from .conftest import download, export_now, fill, import_archive, ok, run_jobs, stored_keys

pytestmark = pytest.mark.django_db


def _files_in(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        return {
            json.loads(line)["sha256"]: zipped.read(json.loads(line)["path"])
            for line in zipped.read(archive.FILES).splitlines()
        }


def test_an_export_is_queued_then_done_with_its_link(account: Account) -> None:
    response = account.client.post("/v1/users/me/export")
    started = ok(response, 202)
    assert response["Location"] == f"/v1/users/me/export/{started['id']}"
    assert started["status"] == "queued"
    assert started["download_url"] is None
    assert started["error"] is None
    assert_problem(account.client.get(f"/v1/users/me/export/{started['id']}/content"), 409, "conflict")
    listed = ok(account.client.get("/v1/users/me/export"))["results"]
    assert [job["id"] for job in listed] == [started["id"]]

    run_jobs()
    done = ok(account.client.get(f"/v1/users/me/export/{started['id']}"))
    assert done["status"] == "done"
    assert done["size"] > 0
    assert done["expires_at"] is not None
    assert done["counts"]["notes"] == 0
    redirect = account.client.get(f"/v1/users/me/export/{started['id']}/content")
    assert redirect.status_code == 302
    assert redirect["Cache-Control"] == "private, no-store"
    data = download(redirect["Location"], account.client)
    assert len(data) == done["size"]
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    assert ok(account.client.get("/v1/users/me/export"))["results"][0]["download_url"].startswith("http")


def test_another_users_export_is_not_found(account: Account, other_account: Account) -> None:
    mine = ok(account.client.post("/v1/users/me/export"), 202)
    run_jobs()
    for path in (f"/v1/users/me/export/{mine['id']}", f"/v1/users/me/export/{mine['id']}/content"):
        assert_problem(other_account.client.get(path), 404, "not_found")
    assert_problem(other_account.client.get(f"/v1/users/me/import/{mine['id']}"), 404, "not_found")
    assert ok(other_account.client.get("/v1/users/me/export"))["results"] == []
    # ... and an export is no import of one's own either
    assert_problem(account.client.get(f"/v1/users/me/import/{mine['id']}"), 404, "not_found")


def test_one_job_at_a_time(make_account: Any) -> None:
    account = make_account()
    ok(account.client.post("/v1/users/me/export"), 202)
    assert_problem(account.client.post("/v1/users/me/export"), 409, "job_in_progress")
    fresh = make_account()
    ok(fresh.client.post("/v1/users/me/export"), 202)
    # An import waits for the export as well (and is refused before its body is read).
    body = import_archive(fresh, b"PK" + b"\x00" * 100)
    assert_problem(body, 409, "job_in_progress")
    run_jobs()
    ok(account.client.post("/v1/users/me/export"), 202)


def test_a_few_exports_a_day(account: Account, settings: Any) -> None:
    settings.EXPORTS_PER_DAY = 2
    for _ in range(2):
        ok(account.client.post("/v1/users/me/export"), 202)
        run_jobs()
    refused = account.client.post("/v1/users/me/export")
    assert_problem(refused, 429, "throttled")
    assert 86000 < int(refused["Retry-After"]) <= 86401
    # A day later the oldest no longer counts.
    Job.objects.filter(owner_id=account.id).update(created_at=timezone.now() - timedelta(days=1, seconds=1))
    ok(account.client.post("/v1/users/me/export"), 202)


def test_anonymous_is_refused(api: Any) -> None:
    assert_problem(api.post("/v1/users/me/export"), 401, "not_authenticated")
    assert_problem(api.get("/v1/users/me/export"), 401, "not_authenticated")


def test_local_storage_export_streams_and_imports(make_account: Any, local_storage: Path) -> None:  # noqa: F811
    """`make run`'s storage: the link is the API's content route (with a token); the same
    archive imports on local storage too."""
    source = make_account()
    pdf = factories.pdf_bytes(pages=2)
    ok(upload(source.client, pdf, "local.pdf"), 201)
    export = export_now(source)
    assert export["download_url"] == f"http://testserver/v1/users/me/export/{export['id']}/content"
    answer = source.client.get(f"/v1/users/me/export/{export['id']}/content")
    assert answer["Content-Type"] == "application/zip"
    assert answer["Content-Disposition"].startswith("attachment;")
    data = download(export["download_url"], source.client)
    assert list(_files_in(data).values()) == [pdf]
    assert (local_storage / "exports" / source.id).is_dir()

    target = make_account()
    started = ok(import_archive(target, data), 202)
    run_jobs()
    assert ok(target.client.get(f"/v1/users/me/import/{started['id']}"))["status"] == "done"
    [file] = ok(target.client.get("/v1/files"))["results"]
    assert b"".join(target.client.get(f"/v1/files/{file['id']}/content").streaming_content) == pdf
    assert not list((local_storage / "imports" / target.id).iterdir()), "the uploaded archive is deleted"


def test_an_archive_larger_than_a_part_is_uploaded_in_parts(account: Account, settings: Any) -> None:
    settings.EXPORT_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part
    pdfs = [factories.StreamedPdf(4 * 1024 * 1024 + n).read_all() for n in range(4)]
    for n, pdf in enumerate(pdfs):
        ok(upload(account.client, pdf, f"big{n}.pdf"), 201)
    export = export_now(account)
    assert export["size"] > 3 * settings.EXPORT_PART_BYTES
    data = download(export["download_url"], account.client)
    assert sorted(_files_in(data).values()) == sorted(pdfs)
    assert not list(storage.list_multipart_uploads(f"exports/{account.id}/")), "completed, none left open"


def test_a_file_deleted_while_the_export_runs_is_left_out(account: Account) -> None:
    held = fill(account)
    pdf = next(f for f in File.objects.filter(owner_id=account.id) if f.kind == "pdf")
    # Deleted after the export's snapshot was taken: the row is still live there, the object gone.
    storage.delete_objects([pdf.storage_key])
    export = export_now(account)
    assert export["status"] == "done", export
    data = download(export["download_url"], account.client)
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        files = [json.loads(line) for line in zipped.read(archive.FILES).splitlines()]
        states = [json.loads(line) for line in zipped.read(archive.VIEWER_STATES).splitlines()]
        notes = [json.loads(line) for line in zipped.read(archive.NOTES).splitlines()]
        assert json.loads(zipped.read(archive.MANIFEST))["files_deleted_during_export"] == 1
        assert not [name for name in zipped.namelist() if name.startswith(f"files/{pdf.id}/")]
    assert str(pdf.id) not in {f["id"] for f in files}
    assert str(pdf.id) not in {s["file"] for s in states}
    assert all(str(pdf.id) not in note["files"] for note in notes)
    assert len(files) == len(held.files) - 1


def test_expired_exports_are_deleted(account: Account) -> None:
    export = export_now(account)
    job = Job.objects.get(id=export["id"])
    assert stored_keys(f"exports/{account.id}/") == [job.archive_key]
    Job.objects.filter(id=job.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.jobs_housekeeping(user_id=account.id)["expired"] == 1  # type: ignore[arg-type]
    expired = ok(account.client.get(f"/v1/users/me/export/{export['id']}"))
    assert (expired["status"], expired["download_url"], expired["size"]) == ("expired", None, None)
    assert stored_keys(f"exports/{account.id}/") == []
    assert_problem(account.client.get(f"/v1/users/me/export/{export['id']}/content"), 409, "conflict")
    # Rows of finished jobs go after ROWS_KEPT.
    Job.objects.filter(id=job.id).update(finished_at=timezone.now() - services.ROWS_KEPT - timedelta(1))
    assert services.jobs_housekeeping(user_id=account.id)["forgotten"] == 1  # type: ignore[arg-type]


def test_deleting_the_account_deletes_its_archives(account: Account) -> None:
    export_now(account)
    assert stored_keys(f"exports/{account.id}/")
    identity_services.user_delete(user_id=account.id)  # type: ignore[arg-type]
    assert stored_keys(f"exports/{account.id}/") == []


def test_reading_exports_costs_a_few_queries(account: Account, django_assert_max_num_queries: Any) -> None:
    export = export_now(account)
    with django_assert_max_num_queries(3):
        ok(account.client.get(f"/v1/users/me/export/{export['id']}"))
    with django_assert_max_num_queries(3):
        ok(account.client.get("/v1/users/me/export"))


def test_an_exports_queries_do_not_grow_with_the_account(make_account: Any) -> None:
    """Records are read a page at a time: 5 notes or 60 (one page either way) cost the same."""

    def queries(notes: int) -> int:
        account = make_account()
        for n in range(notes):
            ok(account.client.post("/v1/notes", {"title": f"n{n}", "body": "x"}, format="json"), 201)
        ok(account.client.post("/v1/users/me/export"), 202)
        with CaptureQueriesContext(connection) as captured:
            run_jobs()
        return len(captured.captured_queries)

    assert queries(5) == queries(60)


def test_an_abandoned_upload_is_aborted_once_it_is_old(account: Account) -> None:
    """A worker that died while writing leaves a multipart upload no job owns: housekeeping
    aborts it once it is ABANDONED_UPLOAD_AGE old (never one a running export is writing)."""
    from apps.library import multipart

    dead = f"exports/{account.id}/{account.id}.zip"
    multipart.multipart_create(dead, content_type="application/zip")
    running = _running_export(account)
    multipart.multipart_create(running.archive_key, content_type="application/zip")

    def open_uploads() -> set[str]:
        return {key for key, _ in storage.list_multipart_uploads(f"exports/{account.id}/")}

    # This user's only: the bucket is shared with other tests running at the same time.
    services.jobs_housekeeping(user_id=account.id)  # type: ignore[arg-type]
    assert open_uploads() == {dead, running.archive_key}, "too young to be abandoned"
    later = timezone.now() + services.ABANDONED_UPLOAD_AGE + timedelta(minutes=1)
    services.jobs_housekeeping(now=later, user_id=account.id)  # type: ignore[arg-type]
    assert open_uploads() == {running.archive_key}


def _running_export(account: Account) -> Job:
    job = Job.objects.get(id=ok(account.client.post("/v1/users/me/export"), 202)["id"])
    claimed = services.job_claim(worker="elsewhere")
    assert claimed is not None
    assert claimed.id == job.id
    return claimed
