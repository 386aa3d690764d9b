"""Files and viewer states in the feed and in pushes; KOReader positions reaching viewer state."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.library.models import File, KosyncProgress
from tests.library import factories
from tests.library.conftest import upload
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db
KOSYNC = "/v1/sync/kosync"
VND = {"HTTP_ACCEPT": "application/vnd.koreader.v1+json"}


def _upload(account, data: bytes, name: str) -> dict:
    response = upload(account.client, data, name)
    assert response.status_code == 201, response.content
    return response.json()


def _when(minutes: int) -> str:
    return (datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def _changes(account, cursor=""):
    return account.client.get("/v1/sync/changes", {"cursor": cursor, "limit": 1000}).json()


def test_upload_rename_delete_flow_through_the_feed(account):
    book = _upload(account, factories.pdf_bytes(), "book.pdf")
    [created] = _changes(account)["changes"]
    assert created["type"] == "file"
    assert created["data"] == account.client.get(f"/v1/files/{book['id']}").json()
    cursor = _changes(account)["cursor"]
    [renamed] = push(account, op("file", book["id"], base=1, name="Renamed.pdf", tags=["Work"]))
    assert renamed["status"] == "applied"
    assert renamed["data"]["name"] == "Renamed.pdf"
    assert renamed["data"]["tags"] == ["work"]
    [seen] = _changes(account, cursor)["changes"]
    assert seen["version"] == 2
    [deleted] = push(account, op("file", book["id"], action="delete", base=2))
    assert deleted["status"] == "applied"
    assert File.objects.get(id=book["id"]).deleted_at is not None
    assert [c["op"] for c in _changes(account, cursor)["changes"]] == ["delete"]


def test_files_cannot_be_created_by_push(account):
    [result] = push(account, op("file", str(uuid.uuid4()), name="x.pdf"))
    assert result["status"] == "rejected"
    assert result["code"] == "upload_required"


def test_viewer_state_by_push_follows_the_viewer_rules(account):
    book = _upload(account, factories.pdf_bytes(pages=10), "book.pdf")

    def position(page: int, minutes: int, intent: str = "advance") -> dict:
        return op(
            "viewer_state",
            book["id"],
            device={"id": "tablet", "name": "Tablet"},
            modified=_when(minutes),
            intent=intent,
            pdf={"page": page},
        )

    [first] = push(account, position(5, 1))
    assert first["status"] == "applied"
    assert first["applied"] is True
    assert first["data"]["current"]["pdf"] == {"page": 5}
    [back] = push(account, position(2, 2))
    assert back["status"] == "applied"
    assert back["applied"] is False
    assert back["reason"] == "regression"
    assert back["data"]["current"]["pdf"] == {"page": 5}
    [stale] = push(account, position(9, 0))
    assert stale["status"] == "conflict"
    assert stale["conflicts"][0]["server"]["pdf"] == {"page": 5}
    [jump] = push(account, position(1, 3, intent="jump"))
    assert jump["applied"] is True
    change = next(c for c in _changes(account)["changes"] if c["type"] == "viewer_state")
    assert change["id"] == book["id"]
    assert change["data"]["current"]["pdf"] == {"page": 1}
    assert change["version"] == jump["version"]
    [invalid] = push(
        account, op("viewer_state", book["id"], device={"id": "t"}, modified=_when(9), pdf={"page": 99})
    )
    assert invalid["status"] == "rejected"


def test_viewer_state_of_another_users_file_is_rejected(account, other_account):
    theirs = _upload(other_account, factories.pdf_bytes(), "theirs.pdf")
    [result] = push(
        account, op("viewer_state", theirs["id"], device={"id": "x"}, modified=_when(1), pdf={"page": 1})
    )
    assert result["status"] == "rejected"
    assert result["code"] == "not_found"


def _kosync_reader(account) -> dict:
    account.client.patch("/v1/users/me", {"kosync_password": "ko pass", "current_password": account.password})
    key = hashlib.md5(b"ko pass", usedforsecurity=False).hexdigest()
    return {**VND, "HTTP_X_AUTH_USER": account.email, "HTTP_X_AUTH_KEY": key}


def test_koreader_progress_lands_in_the_epub_viewer_state(account):
    book = _upload(account, factories.epub_bytes(chapters=4), "book.epub")
    headers = _kosync_reader(account)
    body = {
        "document": book["koreader_hash"],
        "progress": "/body/DocFragment[3]/body/p[2]/text().0",
        "percentage": 0.6,
        "device": "Kobo",
        "device_id": "ABC123",
    }
    stored = account.client.put(f"{KOSYNC}/syncs/progress", body, format="json", **headers)
    assert stored.status_code == 200
    state = account.client.get(f"/v1/files/{book['id']}/viewer-state").json()
    current = state["current"]
    assert current["device"]["name"] == "Kobo"
    assert current["locator"]["href"].endswith("ch3.xhtml")
    assert current["locator"]["locations"]["totalProgression"] == 0.6
    assert current["locator"]["locations"]["xpointer"] == body["progress"]
    # KOReader still gets exactly its own record back.
    got = account.client.get(f"{KOSYNC}/syncs/progress/{book['koreader_hash']}", **headers).json()
    assert got["progress"] == body["progress"]
    assert got["percentage"] == 0.6
    # A later KOReader push further back is kept as the device's position, not the current one.
    back = {**body, "progress": "/body/DocFragment[1]/body/p[1]/text().0", "percentage": 0.1}
    assert account.client.put(f"{KOSYNC}/syncs/progress", back, format="json", **headers).status_code == 200
    state = account.client.get(f"/v1/files/{book['id']}/viewer-state").json()
    assert state["current"]["locator"]["locations"]["totalProgression"] == 0.6
    kobo = next(d for d in state["devices"] if d["device"]["name"] == "Kobo")
    assert kobo["locator"]["locations"]["totalProgression"] == 0.1
    # ... while KOReader's own record is last-write-wins.
    got = account.client.get(f"{KOSYNC}/syncs/progress/{book['koreader_hash']}", **headers).json()
    assert got["percentage"] == 0.1


def test_koreader_progress_on_a_pdf_uses_the_page(account):
    book = _upload(account, factories.pdf_bytes(pages=12), "paper.pdf")
    headers = _kosync_reader(account)
    body = {
        "document": book["koreader_hash"],
        "progress": "7",
        "percentage": 0.5833,
        "device": "Kindle",
        "device_id": "K1",
    }
    assert account.client.put(f"{KOSYNC}/syncs/progress", body, format="json", **headers).status_code == 200
    current = account.client.get(f"/v1/files/{book['id']}/viewer-state").json()["current"]
    assert current["pdf"] == {"page": 7}  # the page says how far: 7 / 12, as KOReader counts
    assert current["progress"] == 0.5833


def test_koreader_progress_for_another_users_file_stays_separate(account, other_account):
    theirs = _upload(other_account, factories.pdf_bytes(), "theirs.pdf")
    headers = _kosync_reader(account)
    body = {
        "document": theirs["koreader_hash"],
        "progress": "1",
        "percentage": 0.1,
        "device": "Kobo",
        "device_id": "X",
    }
    assert account.client.put(f"{KOSYNC}/syncs/progress", body, format="json", **headers).status_code == 200
    assert other_account.client.get(f"/v1/files/{theirs['id']}/viewer-state").json()["current"] is None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _push_was_earlier(account, document: str, seconds: int = 5) -> int:
    """Date KOReader's stored push back a few seconds (its record has whole seconds, and the
    server orders a KOReader push and another client's write by the second)."""
    record = KosyncProgress.objects.get(owner_id=account.id, document=document)
    record.timestamp -= seconds
    record.save(update_fields=["timestamp"])
    return record.timestamp


def _kosync_get(account, headers, document: str) -> dict:
    response = account.client.get(f"{KOSYNC}/syncs/progress/{document}", **headers)
    assert response.status_code == 200
    return response.json()


def test_koreader_is_answered_with_a_newer_position_from_another_client(account):
    book = _upload(account, factories.epub_bytes(chapters=4), "book.epub")
    headers = _kosync_reader(account)
    kobo = {
        "document": book["koreader_hash"],
        "progress": "/body/DocFragment[1]/body/p[2]/text().0",
        "percentage": 0.1,
        "device": "Kobo",
        "device_id": "ABC123",
    }
    assert account.client.put(f"{KOSYNC}/syncs/progress", kobo, format="json", **headers).status_code == 200
    assert _kosync_get(account, headers, book["koreader_hash"])["device_id"] == "ABC123"
    pushed_at = _push_was_earlier(account, book["koreader_hash"])

    href = account.client.get(f"/v1/files/{book['id']}").json()["metadata"]["spine"][2]
    web = {
        "device": {"id": "web-1", "name": "Web reader"},
        "modified": _now(),
        "locator": {
            "href": href,
            "type": "application/xhtml+xml",
            "locations": {"progression": 0.4, "totalProgression": 0.61237},
        },
    }
    assert account.client.put(f"/v1/files/{book['id']}/viewer-state", web, format="json").status_code == 200
    answer = _kosync_get(account, headers, book["koreader_hash"])
    assert answer.pop("timestamp") > pushed_at
    assert answer == {
        "document": book["koreader_hash"],
        "percentage": 0.6123,
        "progress": "/body/DocFragment[3].0",
        "device": "Web reader",
        "device_id": "web-1",
    }

    # KOReader pushes after that: its own record is the answer again (last write wins).
    later = {**kobo, "progress": "/body/DocFragment[3]/body/p[9]/text().0", "percentage": 0.64}
    assert account.client.put(f"{KOSYNC}/syncs/progress", later, format="json", **headers).status_code == 200
    got = _kosync_get(account, headers, book["koreader_hash"])
    assert (got["progress"], got["device_id"]) == (later["progress"], "ABC123")


def test_koreader_gets_a_web_pdf_page_even_before_its_first_push(account):
    book = _upload(account, factories.pdf_bytes(pages=12), "paper.pdf")
    headers = _kosync_reader(account)
    web = {"device": {"id": "web-1", "name": "Web reader"}, "modified": _now(), "pdf": {"page": 9}}
    assert account.client.put(f"/v1/files/{book['id']}/viewer-state", web, format="json").status_code == 200
    got = _kosync_get(account, headers, book["koreader_hash"])
    assert got["progress"] == "9"
    assert got["device_id"] == "web-1"
    assert got["percentage"] == 0.75  # page 9 of 12, as KOReader would say it


def test_an_older_position_from_another_client_does_not_replace_koreaders(account):
    book = _upload(account, factories.pdf_bytes(pages=12), "paper.pdf")
    headers = _kosync_reader(account)
    web = {"device": {"id": "web-1", "name": "Web"}, "modified": _when(0), "pdf": {"page": 3}}
    assert account.client.put(f"/v1/files/{book['id']}/viewer-state", web, format="json").status_code == 200
    kobo = {"document": book["koreader_hash"], "progress": "5", "percentage": 0.41}
    kobo |= {"device": "Kobo", "device_id": "K"}
    assert account.client.put(f"{KOSYNC}/syncs/progress", kobo, format="json", **headers).status_code == 200
    assert _kosync_get(account, headers, book["koreader_hash"])["progress"] == "5"
