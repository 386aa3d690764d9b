"""Export → import into a fresh account → every object equal, files byte-equal (issue 16 §2).

Against the real services, committed (the export's REPEATABLE READ snapshot, the worker's own
connections): an account holding one of everything is exported through the API, the archive is
downloaded from its presigned URL and read as a person would (manifest, Markdown, the files),
then uploaded to another account's import. Ids are new (docs/export.md says why); everything
else — fields, versions, dates, relations, positions, tags, revisions, viewer states with their
devices and history, KOReader records — must be what it was, and the devices of the new account
see all of it in a full sync pull.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.library.models import KosyncProgress
from apps.portability import archive
from tests.conftest import Account
from tests.library.conftest import http

from .conftest import Holdings, download, export_now, fill, import_archive, ok, run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def _content(client: APIClient, file_id: str) -> bytes:
    response = client.get(f"/v1/files/{file_id}/content")
    assert response.status_code == 302, response.content
    status, _, body = http("GET", response["Location"])
    assert status == 200
    return body


def _all(client: APIClient, path: str, **query: Any) -> list[dict[str, Any]]:
    return list(ok(client.get(path, {"limit": 200, **query}))["results"])


def _archived_too(client: APIClient, path: str) -> list[dict[str, Any]]:
    """A list that hides archived objects by default, and its archived ones."""
    return _all(client, path) + _all(client, path, archived="true")


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in keys}


def _snapshot(client: APIClient) -> dict[str, Any]:
    """Everything the API shows of an account, files keyed by SHA-256 (unique per account)."""
    files = {f["sha256"]: f for f in _all(client, "/v1/files")}
    notes = _archived_too(client, "/v1/notes")
    return {
        "lists": _archived_too(client, "/v1/todos/lists"),
        "tasks": _all(client, "/v1/todos"),
        "completions": {
            task["id"]: _all(client, f"/v1/todos/{task['id']}/completions")
            for task in _all(client, "/v1/todos")
        },
        "notes": notes,
        "revisions": {
            note["id"]: [
                ok(client.get(f"/v1/notes/{note['id']}/revisions/{revision['number']}"))
                for revision in _all(client, f"/v1/notes/{note['id']}/revisions")
            ]
            for note in notes
        },
        "files": files,
        "viewer_states": {
            sha: ok(client.get(f"/v1/files/{f['id']}/viewer-state")) for sha, f in files.items()
        },
        "content": {sha: _content(client, f["id"]) for sha, f in files.items()},
    }


def _id_map(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Old id → new id, matching objects by what identifies them to a person."""
    ids: dict[str, str] = {}
    for sha, file in before["files"].items():
        ids[file["id"]] = after["files"][sha]["id"]
    for kind, key in (
        ("lists", ("name", "position")),
        ("tasks", ("title", "position")),
        ("notes", ("title", "body")),
    ):
        new = {tuple(row[k] for k in key): row["id"] for row in after[kind]}
        assert len(new) == len(after[kind]), f"{kind}: ambiguous match"
        for row in before[kind]:
            ids[row["id"]] = new[tuple(row[k] for k in key)]
    return ids


def _mapped(value: Any, ids: dict[str, str]) -> Any:
    """`value` with every old id replaced by its new one (ids appear as strings in JSON)."""
    if isinstance(value, dict):
        return {ids.get(k, k): _mapped(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_mapped(v, ids) for v in value]
    if isinstance(value, str):
        return ids.get(value, value)
    return value


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows by id; a note's `files` (a set, listed in id order) as a set."""
    return {row["id"]: {**row, **({"files": set(row["files"])} if "files" in row else {})} for row in rows}


def _check_archive(data: bytes, source: Account, held: Holdings) -> None:
    """What a person finds in the archive without this product."""
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.testzip() is None
        names = set(zipped.namelist())
        manifest = json.loads(zipped.read(archive.MANIFEST))
        assert manifest["format"] == "exampleapp-account-export"
        assert manifest["version"] == 1
        assert manifest["account"]["email"] == source.email
        assert archive.README in names
        files = [json.loads(line) for line in zipped.read(archive.FILES).splitlines()]
        assert {f["id"]: zipped.read(f["path"]) for f in files} == held.files
        notes = [json.loads(line) for line in zipped.read(archive.NOTES).splitlines()]
        assert manifest["entries"][archive.NOTES] == len(notes) == len(held.notes)
        markdown = {name: zipped.read(name).decode() for name in names if name.startswith("notes/markdown/")}
        assert len(markdown) == len(notes)
        reading = next(
            text for name, text in markdown.items() if name.startswith("notes/markdown/Reading list (")
        )
        assert reading.startswith("---\n")
        assert '\ntags: ["books"]\n' in reading
        assert "\n# Reading list\n\n# Books\n" in reading
        assert any("Ünïcödé ✓ 🐍" in text for text in markdown.values())
        # A name no system could create becomes one every system can.
        assert any(name.startswith("files/") and name.endswith("/Kitten_ sleeping_.png") for name in names)


def test_export_then_import_restores_every_object(make_account: Any) -> None:
    source = make_account()
    held = fill(source)
    # Deleted objects are tombstones for sync, not data: they stay out of the archive.
    gone = ok(source.client.post("/v1/notes", {"title": "Deleted", "body": "x"}, format="json"), 201)
    ok(source.client.delete(f"/v1/notes/{gone['id']}"), 204)
    before = _snapshot(source.client)

    export = export_now(source)
    assert export["status"] == "done", export
    assert export["counts"] == {
        "files": 3,
        "viewer_states": 3,
        "kosync_progress": 1,
        "notes": 3,
        "note_revisions": 3,
        "task_lists": 2,
        "tasks": 4,
        "task_completions": 2,
    }
    assert export["download_url"].startswith("http")
    data = download(export["download_url"], source.client)
    assert len(data) == export["size"]
    _check_archive(data, source, held)

    target = make_account()
    started = ok(import_archive(target, data), 202)
    assert started["status"] == "queued"
    run_jobs()
    finished = ok(target.client.get(f"/v1/users/me/import/{started['id']}"))
    assert finished["status"] == "done", finished
    assert finished["counts"] == export["counts"]

    after = _snapshot(target.client)
    ids = _id_map(before, after)
    assert not set(ids) & set(ids.values()), "ids are new"
    for kind in ("lists", "tasks", "notes"):
        assert _by_id(after[kind]) == _by_id(_mapped(before[kind], ids)), kind
    assert {task: [_without(c, "id") for c in rows] for task, rows in after["completions"].items()} == {
        ids[task]: [_without(c, "id") for c in rows] for task, rows in before["completions"].items()
    }
    assert after["revisions"] == _mapped(before["revisions"], ids)
    assert {sha: _without(f, "id") for sha, f in after["files"].items()} == {
        sha: _without(f, "id") for sha, f in before["files"].items()
    }
    assert after["viewer_states"] == _mapped(before["viewer_states"], ids)
    assert after["content"] == before["content"]  # byte-equal, through S3
    assert set(after["content"].values()) == set(held.files.values())

    def kosync(owner: str) -> list[tuple[Any, ...]]:
        return list(
            KosyncProgress.objects.filter(owner_id=owner).values_list(
                "document", "progress", "percentage", "device", "device_id", "timestamp"
            )
        )

    assert kosync(target.id) == kosync(source.id) != []

    # The new account's devices see everything in a full pull, as REST shows it.
    pulled = ok(target.client.get("/v1/sync/changes", {"limit": 1000}))
    by_type: dict[str, set[str]] = {}
    for change in pulled["changes"]:
        by_type.setdefault(change["type"], set()).add(change["id"])
    assert by_type == {
        "tasklist": {row["id"] for row in after["lists"]},
        "task": {row["id"] for row in after["tasks"]},
        "note": {row["id"] for row in after["notes"]},
        "file": {f["id"] for f in after["files"].values()},
        "viewer_state": {
            f["id"] for sha, f in after["files"].items() if after["viewer_states"][sha]["current"]
        },
    }
    # The archive is gone from storage once imported; the source account is untouched.
    assert _snapshot(source.client) == before
