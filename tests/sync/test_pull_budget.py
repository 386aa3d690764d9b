"""Pull pages are capped by bytes as well as by count (issue 12: a page of forty 1 MB notes was
40 MB built in memory). A page holds at least one change; `has_more` says the rest; paging on
delivers everything, in order, exactly once."""

from __future__ import annotations

import tracemalloc
import uuid
from typing import Any

import pytest
from django.test import override_settings

from apps.notes import services as notes_services
from apps.sync import registry
from apps.sync.feed import owner_write
from apps.sync.selectors import Cursor, changes_since
from tests.conftest import Account

pytestmark = pytest.mark.django_db
KIB = 1024
MIB = 1024 * KIB


def _notes(account: Account, *bodies: str) -> list[uuid.UUID]:
    owner = uuid.UUID(account.id)
    items = [(uuid.uuid4(), {"title": f"n{index}", "body": body}) for index, body in enumerate(bodies)]
    with owner_write(owner_id=owner):
        notes_services.notes_create_new(owner_id=owner, items=items)
    return [note_id for note_id, _ in items]


def _pull_all(account: Account, limit: int = 1000) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = account.client.get("/v1/sync/changes", {"cursor": cursor, "limit": limit})
        assert response.status_code == 200
        page = response.json()
        page["bytes"] = len(response.content)
        pages.append(page)
        cursor = page["cursor"]
        if not page["has_more"]:
            return pages


@override_settings(SYNC_PULL_MAX_BYTES=64 * KIB)
def test_pages_stop_at_the_byte_budget_and_deliver_everything_once(account: Account) -> None:
    ids = _notes(account, *(chr(ord("a") + index) * (20 * KIB) for index in range(10)))
    pages = _pull_all(account)
    assert len(pages) >= 4  # ten 20 KiB notes cannot share 64 KiB pages more than three at a time
    for page in pages[:-1]:
        assert page["has_more"] is True
        assert 1 <= len(page["changes"]) <= 3
        assert page["bytes"] <= 64 * KIB + 2 * KIB
    delivered = [change["id"] for page in pages for change in page["changes"]]
    assert delivered == [str(note_id) for note_id in ids]
    seqs = [change["seq"] for page in pages for change in page["changes"]]
    assert seqs == sorted(seqs)
    assert all(len(change["data"]["body"]) == 20 * KIB for page in pages for change in page["changes"])


@override_settings(SYNC_PULL_MAX_BYTES=64 * KIB, NOTE_BODY_MAX_BYTES=MIB)
def test_an_object_larger_than_the_budget_comes_alone(account: Account) -> None:
    _notes(account, "small", "x" * (200 * KIB), "small again")
    pages = _pull_all(account)
    assert [len(page["changes"]) for page in pages] == [1, 1, 1]
    assert len(pages[1]["changes"][0]["data"]["body"]) == 200 * KIB


@override_settings(SYNC_PULL_MAX_BYTES=64 * KIB)
def test_bodies_past_the_budget_are_not_loaded(account: Account) -> None:
    ids = _notes(account, *("y" * (30 * KIB) for _ in range(5)))
    shaped = registry.get("note").fetch_shaped(owner_id=uuid.UUID(account.id), ids=ids, max_bytes=64 * KIB)
    loaded = [note_id for note_id in ids if isinstance(shaped[note_id], registry.Shaped)]
    assert loaded == ids[:2]  # 30 + 30 KiB fit in 64; a third would not
    assert all(shaped[note_id] is registry.OVER_BUDGET for note_id in ids[2:])


@override_settings(SYNC_PULL_MAX_BYTES=64 * KIB)
def test_other_types_are_cut_too(account: Account, make_account: Any) -> None:
    """Tasks (notes up to 100,000 characters) go through the generic, chunked path."""
    inbox = account.client.post("/v1/todos/lists", {"name": "Inbox"}, format="json").json()
    for index in range(6):
        created = account.client.post(
            "/v1/todos", {"list": inbox["id"], "title": f"t{index}", "notes": "z" * (25 * KIB)}, format="json"
        )
        assert created.status_code == 201, created.content
    pages = _pull_all(account)
    assert len(pages) >= 3
    assert sum(len(page["changes"]) for page in pages) == 7
    assert all(page["bytes"] <= 64 * KIB + 30 * KIB for page in pages)


def test_a_page_of_large_notes_is_never_in_memory_whole(account: Account) -> None:
    """Forty notes of 1 MiB: with the 8 MiB default budget the first page carries about eight,
    and the other bodies never leave the database. Measured as what the database driver
    allocated for the page (tracemalloc, by the frames that made it): the whole page took
    40 MiB there before the budget."""
    _notes(account, *(chr(ord("A") + index % 26) * MIB for index in range(40)))
    tracemalloc.start(32)
    try:
        page = changes_since(owner_id=uuid.UUID(account.id), cursor=Cursor(), limit=1000)
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert page.has_more is True
    assert 6 <= len(page.changes) <= 8
    fetched = sum(
        stat.size
        for stat in snapshot.statistics("traceback")
        if any("psycopg" in frame.filename for frame in stat.traceback)
    )
    assert fetched < 10 * MIB, f"{fetched / MIB:.1f} MiB of rows"
