"""Fixtures of the export and import tests: an account holding one of everything (through the
API, as a client would make it), running the worker, reading what storage and the database hold,
and archives built by hand (hostile or not)."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command

from apps.library import storage
from apps.portability import archive
from tests.conftest import Account
from tests.library import factories
from tests.library.conftest import upload

KOSYNC_PASSWORD = "reading on the tram"
KOSYNC_KEY = hashlib.md5(KOSYNC_PASSWORD.encode(), usedforsecurity=False).hexdigest()
KINDLE = {"id": "kindle-1", "name": "Kindle"}
PHONE = {"id": "phone-7", "name": "Phone"}


def run_jobs() -> None:
    """What the worker Deployment does, once: every queued job runs to its end."""
    call_command("portability_worker", "--once", stdout=io.StringIO())


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


@dataclass
class Holdings:
    """What `fill` made, by kind: the API's answers at the time."""

    lists: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes


def fill(account: Account) -> Holdings:
    """One of everything an account can hold, with the relations between them: lists (one
    archived), tasks and sub-tasks with every kind of due, recurrence, tags, priorities,
    completions; notes pinned, archived, tagged, linked to files, with revisions (an edit and a
    restore); a PDF, an EPUB and an image, each with a viewer state (devices, history, a
    regression kept per device); a KOReader progress record."""
    client = account.client
    held = Holdings()
    # --- library
    pdf = factories.pdf_bytes(pages=5, title="Annual report")
    epub = factories.epub_bytes(chapters=4)
    png = factories.image_bytes("PNG")
    ids = {}
    for name, data in (("Report 2025.pdf", pdf), ("Tiny Tales.epub", epub), ("Kitten: sleeping?.png", png)):
        created = ok(upload(client, data, name), 201)
        ids[created["kind"]] = created["id"]
        held.files[created["id"]] = data
    ok(client.patch(f"/v1/files/{ids['pdf']}", {"tags": ["Work", "reports"]}, format="json"))
    states = (
        (ids["pdf"], {"pdf": {"page": 3, "zoom": 1.5, "rotation": 90}}, "2026-01-01T10:00:00Z", KINDLE),
        (ids["pdf"], {"pdf": {"page": 1}}, "2026-01-01T10:05:00Z", PHONE),  # a regression: kept per device
        (
            ids["epub"],
            {
                "locator": {
                    "href": "OEBPS/text/ch2.xhtml",
                    "type": "application/xhtml+xml",
                    "locations": {"progression": 0.25, "partialCfi": "/4/2/8:120"},
                    "vendor": {"kept": True},
                }
            },
            "2026-01-02T09:00:00Z",
            KINDLE,
        ),
        (ids["image"], {"image": {"zoom": 2, "pan_x": 10.5, "pan_y": -3}}, "2026-01-03T08:00:00Z", PHONE),
    )
    for file_id, position, modified, device in states:
        ok(
            client.put(
                f"/v1/files/{file_id}/viewer-state",
                {"device": device, "modified": modified, **position},
                format="json",
            )
        )
    # --- KOReader
    ok(
        client.patch(
            "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": account.password}
        )
    )
    kosync = client.__class__()
    kosync.credentials(
        HTTP_ACCEPT="application/vnd.koreader.v1+json",
        HTTP_X_AUTH_USER=account.email,
        HTTP_X_AUTH_KEY=KOSYNC_KEY,
    )
    stored = kosync.put(
        "/v1/sync/kosync/syncs/progress",
        {
            "document": "0123456789abcdef0123456789abcdef",
            "progress": "/body/p[3]",
            "percentage": 0.42,
            "device": "Kobo",
        },
        format="json",
    )
    assert stored.status_code == 200, stored.content
    # --- notes
    linked = ok(
        client.post(
            "/v1/notes",
            {
                "title": "Reading list",
                "body": "# Books\n\n- *Tiny Tales*\n",
                "tags": ["Books"],
                "pinned": True,
                "files": [ids["epub"], ids["pdf"]],
            },
            format="json",
        ),
        201,
    )
    for body in ("# Books\n\n- *Tiny Tales*\n- more\n", "# Books\n\nnone left\n"):
        ok(client.patch(f"/v1/notes/{linked['id']}", {"body": body}, format="json"))
    ok(client.post(f"/v1/notes/{linked['id']}/revisions/1/restore", format="json"))
    ok(
        client.post(
            "/v1/notes", {"title": "Old idea", "body": "Ünïcödé ✓ 🐍", "archived": True}, format="json"
        ),
        201,
    )
    ok(client.post("/v1/notes", {"title": "", "body": "untitled text"}, format="json"), 201)
    # --- todos
    home = ok(client.post("/v1/todos/lists", {"name": "Home", "color": "#A0B1C2"}, format="json"), 201)
    old = ok(client.post("/v1/todos/lists", {"name": "Old", "archived": True}, format="json"), 201)
    parent = ok(
        client.post(
            "/v1/todos",
            {"list": home["id"], "title": "Clean", "due": "2026-03-01", "priority": 2, "tags": ["Chores"]},
            format="json",
        ),
        201,
    )
    ok(
        client.post(
            "/v1/todos", {"list": home["id"], "title": "Kitchen", "parent": parent["id"]}, format="json"
        ),
        201,
    )
    recurring = ok(
        client.post(
            "/v1/todos",
            {
                "list": home["id"],
                "title": "Water plants",
                "due": "2026-03-02T09:30:00+01:00",
                "recurrence": {"freq": "weekly", "interval": 2},
                "notes": "  the big one  ",
            },
            format="json",
        ),
        201,
    )
    ok(client.patch(f"/v1/todos/{recurring['id']}", {"done": True}, format="json"))  # moves on, records it
    done = ok(client.post("/v1/todos", {"list": old["id"], "title": "Finished"}, format="json"), 201)
    ok(client.patch(f"/v1/todos/{done['id']}", {"done": True}, format="json"))
    # --- what the API says now
    for path, kept in (("/v1/todos/lists", held.lists), ("/v1/notes", held.notes)):
        for archived in ("false", "true"):
            kept += ok(client.get(path, {"archived": archived, "limit": 200}))["results"]
    held.tasks = ok(client.get("/v1/todos", {"limit": 200}))["results"]
    return held


def download(url: str, client: Any) -> bytes:
    """The archive at a `download_url`: a presigned S3 URL (plain HTTP, no token), or the API's
    own content route (local storage)."""
    if url.startswith("http://testserver/"):
        response = client.get(url.removeprefix("http://testserver"))
        assert response.status_code == 200, response.content
        return b"".join(response.streaming_content)
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - the test's own S3
        return bytes(answer.read())


def export_now(account: Account) -> dict[str, Any]:
    """Start an export, run the worker, answer the finished export."""
    started = ok(account.client.post("/v1/users/me/export"), 202)
    run_jobs()
    return ok(account.client.get(f"/v1/users/me/export/{started['id']}"))


def import_archive(account: Account, data: bytes, name: str = "export.zip") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return account.client.post(
        "/v1/users/me/import",
        {"archive": SimpleUploadedFile(name, data, content_type="application/zip")},
        format="multipart",
    )


def stored_keys(prefix: str) -> list[str]:
    return [key for key, _ in storage.list_objects(prefix)]


# --- archives by hand ---------------------------------------------------------------------------


def manifest(**overrides: Any) -> dict[str, Any]:
    return {
        "format": archive.FORMAT,
        "version": archive.VERSION,
        "created_at": "2026-01-01T00:00:00Z",
        "entries": dict.fromkeys(archive.RECORD_ENTRIES, 0),
        **overrides,
    }


def build(
    entries: dict[str, bytes | str] | None = None,
    *,
    records: dict[str, list[Any]] | None = None,
    manifest_doc: Any = None,
) -> bytes:
    """A zip with `records` as JSON Lines (counted in the manifest), a manifest (or
    `manifest_doc` as it is) and any other `entries`."""
    records = records or {}
    doc = manifest_doc
    if doc is None:
        doc = manifest()
        doc["entries"].update({name: len(items) for name, items in records.items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(archive.MANIFEST, doc if isinstance(doc, (bytes, str)) else json.dumps(doc))
        for name in archive.RECORD_ENTRIES:
            lines = records.get(name, [])
            out.writestr(
                name, "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
            )
        for name, data in (entries or {}).items():
            out.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def hostile(make_account: Callable[..., Account]) -> Account:
    return make_account()
