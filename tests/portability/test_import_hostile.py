"""Importing hostile archives: every class is refused with problem+json and a stable code, never a
500, and nothing is left half-written (no row, no stored object, not even the uploaded archive).

Two places refuse. The request itself reads the zip's structure and manifest (422
`invalid_archive` at once, nothing queued): not a zip, zip bombs, entry counts, names, symlinks,
encryption, compression, the manifest's JSON and version. The worker reads the records and the
files' bytes: malformed or poisoned JSON, records the API would refuse, references to nothing,
bytes that are not what their record says or no acceptable file; the import then fails with the
same problem as its `error`, and everything it had stored is deleted.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import stat
import string
import struct
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from apps.library.models import File
from apps.portability import archive
from apps.portability.models import Job
from apps.portability.selectors import account_holds_data
from tests.conftest import Account, assert_problem
from tests.library import factories

from .conftest import build, import_archive, manifest, ok, run_jobs, stored_keys

pytestmark = pytest.mark.django_db

PDF = factories.pdf_bytes(pages=2, title="Hostile")
FILE_ID = "11111111-1111-4111-8111-111111111111"
LIST_ID = "22222222-2222-4222-8222-222222222222"
TASK_ID = "33333333-3333-4333-8333-333333333333"
NOTE_ID = "44444444-4444-4444-8444-444444444444"
STAMP = {"version": 2, "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-02T10:00:00Z"}


def valid_records(pdf: bytes = PDF) -> dict[str, list[Any]]:
    """A small account that imports cleanly (each test spoils one thing)."""
    path = f"files/{FILE_ID}/Hostile.pdf"
    return {
        archive.FILES: [
            {
                "id": FILE_ID,
                "name": "Hostile.pdf",
                "size": len(pdf),
                "sha256": hashlib.sha256(pdf).hexdigest(),
                "tags": ["x"],
                "path": path,
                **STAMP,
            }
        ],
        archive.VIEWER_STATES: [
            {
                "file": FILE_ID,
                "kind": "pdf",
                "version": 1,
                "created_at": STAMP["created_at"],
                "updated_at": STAMP["updated_at"],
                "devices": [],
                "history": [],
                "current": {
                    "device": {"id": "d1", "name": ""},
                    "modified": STAMP["created_at"],
                    "intent": "advance",
                    "pdf": {"page": 2},
                },
            }
        ],
        archive.NOTES: [
            {
                "id": NOTE_ID,
                "title": "t",
                "body": "b",
                "tags": [],
                "pinned": False,
                "archived": False,
                "files": [FILE_ID],
                **STAMP,
            }
        ],
        archive.REVISIONS: [
            {
                "note": NOTE_ID,
                "number": 1,
                "title": "t",
                "body": "a",
                "note_version": 1,
                "reason": "edit",
                "created_at": STAMP["created_at"],
            }
        ],
        archive.LISTS: [
            {"id": LIST_ID, "name": "L", "color": "", "position": "i", "archived": False, **STAMP}
        ],
        archive.TASKS: [
            {
                "id": TASK_ID,
                "list": LIST_ID,
                "parent": None,
                "title": "T",
                "position": "i",
                "completed_at": None,
                "completion_count": 0,
                "last_completed_at": None,
                **STAMP,
            }
        ],
    }


def valid(
    records: dict[str, list[Any]] | None = None, files: dict[str, bytes] | None = None, **kw: Any
) -> bytes:
    return build(
        {f"files/{FILE_ID}/Hostile.pdf": PDF, **(files or {})}, records=records or valid_records(), **kw
    )


def spoiled(name: str, index: int = 0, **changes: Any) -> dict[str, list[Any]]:
    records = valid_records()
    records[name][index] = {**records[name][index], **changes}
    return records


def nothing_written(account: Account) -> None:
    assert not account_holds_data(owner_id=account.id)  # type: ignore[arg-type]
    assert not File.objects.filter(owner_id=account.id).exists()
    assert stored_keys(f"users/{account.id}/") == []
    assert stored_keys(f"imports/{account.id}/") == [], "the uploaded archive is deleted"


def refused_at_once(
    account: Account, data: bytes, reason: str, status: int = 422, code: str = "invalid_archive"
) -> dict[str, Any]:
    body = assert_problem(import_archive(account, data), status, code)
    if reason:
        assert body["reason"] == reason, body
    assert not Job.objects.filter(owner_id=account.id).exists()
    nothing_written(account)
    return body


def failed_in_worker(account: Account, data: bytes, code: str, reason: str | None = None) -> dict[str, Any]:
    started = ok(import_archive(account, data), 202)
    run_jobs()
    job = ok(account.client.get(f"/v1/users/me/import/{started['id']}"))
    assert job["status"] == "failed", job
    error = job["error"]
    assert error["code"] == code, error
    assert error["status"] < 500
    if reason is not None:
        assert error.get("reason") == reason, error
    nothing_written(account)
    return error


def test_the_valid_archive_imports(hostile: Account) -> None:
    started = ok(import_archive(hostile, valid()), 202)
    run_jobs()
    assert ok(hostile.client.get(f"/v1/users/me/import/{started['id']}"))["status"] == "done"
    assert account_holds_data(owner_id=hostile.id)  # type: ignore[arg-type]


# --- the zip itself ---------------------------------------------------------------------------------


def _zip(
    entries: list[tuple[zipfile.ZipInfo | str, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    # zipfile warns about the duplicate name it is asked to write: that is the point here.
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as out:
        warnings.simplefilter("ignore", UserWarning)
        out.writestr(archive.MANIFEST, json.dumps(manifest()))
        for name in archive.RECORD_ENTRIES:
            out.writestr(name, b"")
        for info, data in entries:
            out.writestr(info, data)
    return buffer.getvalue()


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("files/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _directory_entry(data: bytes, name: bytes) -> int:
    """Where the central directory's record of the entry `name` starts."""
    return data.rindex(b"PK\x01\x02", 0, data.rindex(name))


def _flagged(data: bytes, name: bytes) -> bytes:
    """The entry marked encrypted in the directory (zipfile writes no encrypted entries)."""
    at = _directory_entry(data, name) + 8
    flags = struct.unpack_from("<H", data, at)[0] | 0x1
    return data[:at] + struct.pack("<H", flags) + data[at + 2 :]


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """The same zip with an entry name's bytes replaced in place (local header and directory):
    how names zipfile would not write (a NUL) are made."""
    assert len(old) == len(new)
    assert data.count(old) == 2
    return data.replace(old, new)


def _declared_smaller(data: bytes, name: bytes) -> bytes:
    """The directory claims an entry expands to fewer bytes than it does (the zip bomb that
    lies about its size to pass the ratio and size checks)."""
    at = _directory_entry(data, name) + 24
    size = struct.unpack_from("<L", data, at)[0]
    return data[:at] + struct.pack("<L", size // 4) + data[at + 4 :]


BOMB = b"\x00" * (8 * 1024 * 1024)
STRUCTURE: dict[str, tuple[Callable[[], bytes], str]] = {
    "random bytes": (lambda: random.Random(1).randbytes(5000), "not_a_zip"),
    "a pdf": (lambda: PDF, "not_a_zip"),
    "a truncated zip": (lambda: valid()[:-200], "not_a_zip"),
    "an empty zip": (lambda: b"PK\x05\x06" + b"\x00" * 18, "not_an_export"),
    "zip bomb (entry ratio)": (lambda: _zip([("files/zeros", BOMB)]), "zip_bomb"),
    "parent directory": (lambda: _zip([("../evil.txt", b"x")]), "path_traversal"),
    "parent directory inside": (lambda: _zip([("files/a/../../../etc/passwd", b"x")]), "path_traversal"),
    "absolute path": (lambda: _zip([("/etc/passwd", b"x")]), "absolute_path"),
    "drive letter": (lambda: _zip([("C:/Windows/evil.dll", b"x")]), "absolute_path"),
    "backslash": (lambda: _zip([("files\\..\\evil", b"x")]), "bad_name"),
    "NUL in a name": (lambda: _renamed(_zip([("files/aXb.pdf", b"x")]), b"aXb", b"a\x00b"), "bad_name"),
    "control character in a name": (lambda: _zip([("files/a\x1bb", b"x")]), "bad_name"),
    "duplicate entry": (lambda: _zip([("files/a", b"1"), ("files/a", b"2")]), "duplicate_entry"),
    "symlink": (lambda: _zip([(_symlink(), b"/etc/passwd")]), "symlink"),
    "encrypted entry": (lambda: _flagged(_zip([("files/secret", b"x")]), b"files/secret"), "encrypted"),
    "bzip2 entry": (lambda: _zip([("files/x", b"x" * 100)], zipfile.ZIP_BZIP2), "unsupported_compression"),
    "no manifest": (lambda: _no_manifest(), "not_an_export"),
}


def _no_manifest() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr("notes/notes.jsonl", b"")
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(STRUCTURE))
def test_structure_is_refused_at_once(hostile: Account, case: str) -> None:
    make, reason = STRUCTURE[case]
    body = refused_at_once(hostile, make(), reason)
    assert body["detail"]


def test_too_many_entries(hostile: Account, settings: Any) -> None:
    settings.IMPORT_MAX_ENTRIES = 16
    refused_at_once(hostile, _zip([(f"files/{n}", b"x") for n in range(20)]), "too_many_entries")


def test_too_much_once_expanded(hostile: Account, settings: Any) -> None:
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024
    body = refused_at_once(
        hostile,
        _zip([("files/big", random.Random(3).randbytes(3 * 1024 * 1024))], zipfile.ZIP_STORED),
        "too_large",
    )
    assert body["max_bytes"] == 2 * 1024 * 1024


def test_archive_over_the_size_cap_is_refused_before_it_is_read(hostile: Account, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    data = _zip([("files/big", random.Random(4).randbytes(2 * 1024 * 1024))], zipfile.ZIP_STORED)
    body = refused_at_once(hostile, data, "", status=413, code="file_too_large")
    assert body["max_bytes"] == 1024 * 1024


# --- the manifest ---------------------------------------------------------------------------------

DEEP = "[" * 40 + "]" * 40
MANIFESTS: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"{format: exampleapp", "malformed_json"),
    "NaN": (b'{"format": "exampleapp-account-export", "version": NaN}', "malformed_json"),
    "a huge number": (b'{"format": "exampleapp-account-export", "version": 1e400}', "malformed_json"),
    "nested too deep": (
        ('{"format": "exampleapp-account-export", "x": ' + DEEP + "}").encode(),
        "json_too_deep",
    ),
    "NUL in a string": (b'{"format": "exampleapp-account-export\\u0000"}', "invalid_text"),
    "lone surrogate": (b'{"format": "\\ud800"}', "invalid_text"),
    "invalid UTF-8": (b'{"format": "\xff\xfe"}', "malformed_json"),
    "a list": (b"[1, 2]", "not_an_export"),
    "another format": (json.dumps(manifest(format="takeout")).encode(), "not_an_export"),
    "version 2": (json.dumps(manifest(version=2)).encode(), "unsupported_version"),
    "version as text": (json.dumps(manifest(version="1")).encode(), "unsupported_version"),
    "version as float": (json.dumps(manifest(version=1.0)).encode(), "unsupported_version"),
    "version as boolean": (json.dumps(manifest(version=True)).encode(), "unsupported_version"),
    "no version": (
        json.dumps({k: v for k, v in manifest().items() if k != "version"}).encode(),
        "unsupported_version",
    ),
    "no counts": (json.dumps(manifest(entries=None)).encode(), "not_an_export"),
    "a negative count": (
        json.dumps(manifest(entries={**manifest()["entries"], archive.NOTES: -1})).encode(),
        "not_an_export",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_manifest_is_checked_at_once(hostile: Account, case: str) -> None:
    raw, reason = MANIFESTS[case]
    refused_at_once(hostile, build(manifest_doc=raw), reason)


def test_a_missing_entry(hostile: Account) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr(archive.MANIFEST, json.dumps(manifest()))
    body = refused_at_once(hostile, buffer.getvalue(), "missing_entry")
    assert set(body["errors"]) <= set(archive.RECORD_ENTRIES)


# --- records, read by the worker ------------------------------------------------------------------


def _line(name: str, line: str) -> bytes:
    records = valid_records()
    records[name] = [line]
    return valid(records)


RECORDS: dict[str, tuple[Callable[[], bytes], str, str | None]] = {
    "malformed JSON": (lambda: _line(archive.NOTES, '{"id": '), "invalid_archive", "malformed_json"),
    "NUL in a string": (
        lambda: valid(spoiled(archive.NOTES, title="a\u0000b")),
        "invalid_archive",
        "invalid_text",
    ),
    "lone surrogate": (
        lambda: _line(archive.LISTS, '{"name": "\\udc00"}'),
        "invalid_archive",
        "invalid_text",
    ),
    "NUL in a key": (lambda: _line(archive.LISTS, '{"na\\u0000me": 1}'), "invalid_archive", "invalid_text"),
    "nested too deep": (
        lambda: _line(archive.TASKS, '{"x": ' + DEEP + "}"),
        "invalid_archive",
        "json_too_deep",
    ),
    "NaN": (lambda: _line(archive.TASKS, '{"priority": NaN}'), "invalid_archive", "malformed_json"),
    "not an object": (lambda: _line(archive.LISTS, "[1, 2, 3]"), "invalid_archive", "invalid_record"),
    "a wrong type": (lambda: valid(spoiled(archive.TASKS, title=5)), "invalid_archive", "invalid_record"),
    "a version from the future": (
        lambda: valid(spoiled(archive.LISTS, version=2**60)),
        "invalid_archive",
        "invalid_record",
    ),
    "a field newer than its object": (
        lambda: valid(spoiled(archive.LISTS, field_versions={"name": 9})),
        "invalid_archive",
        "invalid_record",
    ),
    "a task in no list": (
        lambda: valid(spoiled(archive.TASKS, list="99999999-9999-4999-8999-999999999999")),
        "invalid_archive",
        "invalid_record",
    ),
    "a task its own parent": (
        lambda: valid(spoiled(archive.TASKS, parent=TASK_ID)),
        "invalid_archive",
        "invalid_record",
    ),
    "a note linking no file": (
        lambda: valid(spoiled(archive.NOTES, files=["99999999-9999-4999-8999-999999999999"])),
        "invalid_archive",
        "invalid_record",
    ),
    "a revision of no note": (
        lambda: valid(spoiled(archive.REVISIONS, note="99999999-9999-4999-8999-999999999999")),
        "invalid_archive",
        "invalid_record",
    ),
    "a viewer state of no file": (
        lambda: valid(spoiled(archive.VIEWER_STATES, file="99999999-9999-4999-8999-999999999999")),
        "invalid_archive",
        "invalid_record",
    ),
    "an EPUB position for a PDF": (
        lambda: valid(spoiled(archive.VIEWER_STATES, kind="epub")),
        "invalid_archive",
        "invalid_record",
    ),
    "a page the PDF does not have": (
        lambda: valid(
            spoiled(
                archive.VIEWER_STATES,
                current={**valid_records()[archive.VIEWER_STATES][0]["current"], "pdf": {"page": 99}},
            )
        ),
        "invalid_archive",
        "invalid_record",
    ),
    "a duplicate id": (
        lambda: valid({**valid_records(), archive.LISTS: valid_records()[archive.LISTS] * 2}),
        "invalid_archive",
        "invalid_record",
    ),
    "a count that is not the manifest's": (
        lambda: valid(
            manifest_doc=manifest(
                entries={
                    **{n: len(r) for n, r in valid_records().items()},
                    archive.COMPLETIONS: 0,
                    archive.KOSYNC: 0,
                    archive.TASKS: 3,
                }
            )
        ),
        "invalid_archive",
        "count_mismatch",
    ),
    "a file path outside files/": (
        lambda: valid(spoiled(archive.FILES, path="manifest.json")),
        "invalid_archive",
        "missing_entry",
    ),
    "a file path that is no entry": (
        lambda: valid(spoiled(archive.FILES, path="files/../../etc/passwd")),
        "invalid_archive",
        "missing_entry",
    ),
    "bytes with another SHA-256": (
        lambda: valid(spoiled(archive.FILES, sha256="0" * 64)),
        "invalid_archive",
        "invalid_record",
    ),
    "bytes of another size": (
        lambda: valid(spoiled(archive.FILES, size=len(PDF) + 1)),
        "invalid_archive",
        "invalid_record",
    ),
    "a body over the note limit": (
        lambda: valid(spoiled(archive.NOTES, body=_text(1024 * 1024 + 1))),
        "note_too_large",
        None,
    ),
    "a size the directory understates": (
        lambda: _declared_smaller(valid(), archive.NOTES.encode()),
        "invalid_archive",
        "corrupt",
    ),
}


def _text(length: int) -> str:
    """Text that does not compress (the ratio check would refuse a page of one letter first)."""
    return "".join(random.Random(length).choices(string.ascii_letters, k=length))


@pytest.mark.parametrize("case", sorted(RECORDS))
def test_records_are_checked_and_nothing_is_written(hostile: Account, case: str) -> None:
    make, code, reason = RECORDS[case]
    error = failed_in_worker(hostile, make(), code, reason)
    assert error["errors"], error
    assert all(where.startswith(("files/", "notes/", "tasks/", "kosync/")) for where in error["errors"]), (
        error
    )


def test_a_record_longer_than_any_record_may_be(hostile: Account, settings: Any) -> None:
    settings.NOTE_BODY_MAX_BYTES = 64 * 1024  # records may then be 4 MiB long
    # Random text does not compress: the length, not the ratio, refuses it.
    long_line = json.dumps({"title": random.Random(5).randbytes(3 * 1024 * 1024).hex()})
    failed_in_worker(hostile, _line(archive.NOTES, long_line), "invalid_archive", "record_too_large")


def test_file_bytes_the_library_refuses(hostile: Account) -> None:
    records = valid_records(pdf=factories.EXE)
    error = failed_in_worker(
        hostile,
        build({records[archive.FILES][0]["path"]: factories.EXE}, records=records),
        "unsupported_file_type",
        "unrecognised",
    )
    assert list(error["errors"]) == [f"{archive.FILES}:1"]


def test_files_stored_before_a_failure_are_deleted(hostile: Account) -> None:
    """The first file is stored (inspected, in S3) when the second is refused: it is deleted."""
    records = valid_records()
    second = {
        **records[archive.FILES][0],
        "id": "55555555-5555-4555-8555-555555555555",
        "name": "x.pdf",
        "size": len(factories.EXE),
        "sha256": hashlib.sha256(factories.EXE).hexdigest(),
        "path": "files/x/x.pdf",
    }
    records[archive.FILES].append(second)
    failed_in_worker(hostile, valid(records, files={"files/x/x.pdf": factories.EXE}), "unsupported_file_type")


def test_a_failure_in_the_transaction_leaves_nothing(hostile: Account, settings: Any) -> None:
    """Everything checked, the files stored, the rows written: the quota check at the end fails,
    the transaction rolls back and the stored objects go."""
    settings.USER_STORAGE_QUOTA_BYTES = len(PDF) + 3  # the note text and the revision pass it
    error = failed_in_worker(hostile, valid(), "quota_exceeded")
    assert error["quota_bytes"] == len(PDF) + 3


def test_an_account_that_holds_data_is_refused(hostile: Account) -> None:
    ok(hostile.client.post("/v1/notes", {"title": "mine"}, format="json"), 201)
    assert_problem(import_archive(hostile, valid()), 409, "import_target_not_empty")
    assert not Job.objects.filter(owner_id=hostile.id).exists()


def test_data_that_arrives_while_the_import_waits_fails_it(hostile: Account) -> None:
    started = ok(import_archive(hostile, valid()), 202)
    note = ok(hostile.client.post("/v1/notes", {"title": "written meanwhile"}, format="json"), 201)
    run_jobs()
    job = ok(hostile.client.get(f"/v1/users/me/import/{started['id']}"))
    assert (job["status"], job["error"]["code"]) == ("failed", "import_target_not_empty")
    assert [n["id"] for n in ok(hostile.client.get("/v1/notes"))["results"]] == [note["id"]]
    assert stored_keys(f"users/{hostile.id}/") == []


def test_no_archive_no_length(hostile: Account) -> None:
    assert_problem(
        hostile.client.post("/v1/users/me/import", {}, format="multipart"), 400, "validation_error"
    )
    response = hostile.client.generic(
        "POST", "/v1/users/me/import", b"", content_type="multipart/form-data; boundary=x"
    )
    assert_problem(response, 411, "length_required")
    assert_problem(
        hostile.client.post("/v1/users/me/import", {"a": 1}, format="json"), 415, "unsupported_media_type"
    )


def test_mangled_archives_never_cause_a_server_error(hostile: Account, settings: Any) -> None:
    """Bytes of a valid archive flipped, dropped or cut at random places: every answer is a
    problem with a 4xx status, at once or from the worker, and nothing is left behind."""
    settings.IMPORTS_PER_DAY = 1000
    data = valid()
    rng = random.Random(16)
    outcomes: set[str] = set()
    for _ in range(40):
        mangled = bytearray(data)
        action = rng.choice(["flip", "cut", "drop"])
        at = rng.randrange(len(mangled))
        if action == "flip":
            for offset in range(rng.randrange(1, 8)):
                if at + offset < len(mangled):
                    mangled[at + offset] = rng.randrange(256)
        elif action == "cut":
            del mangled[at:]
        else:
            del mangled[at : at + rng.randrange(1, 64)]
        answer = import_archive(hostile, bytes(mangled))
        if answer.status_code == 202:
            run_jobs()
            job = ok(hostile.client.get(f"/v1/users/me/import/{answer.json()['id']}"))
            if job["status"] == "done":  # a flip in a byte nothing reads: a clean import; undo it
                outcomes.add("done")
                _empty(hostile)
                continue
            assert job["status"] == "failed", job
            assert job["error"]["status"] < 500, job["error"]
            outcomes.add(f"worker {job['error']['code']} {job['error'].get('reason')}")
        else:
            body = assert_problem(answer, answer.status_code)
            assert answer.status_code < 500, body
            outcomes.add(f"request {body['code']} {body.get('reason')}")
        nothing_written(hostile)
    assert len(outcomes) > 3, outcomes


def _empty(account: Account) -> None:
    from apps.library.models import KosyncProgress
    from apps.notes.models import Note
    from apps.todos.models import Task, TaskList

    for model in (Task, TaskList, Note, File, KosyncProgress):
        model.objects.filter(owner_id=account.id).delete()
    from apps.library import storage

    storage.delete_objects(stored_keys(f"users/{account.id}/"))
