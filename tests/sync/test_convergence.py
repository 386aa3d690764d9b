"""The feed under concurrent writers, and devices that go offline and converge."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from django.db import connections

from apps.notes import services as notes
from apps.notes.models import Note
from apps.sync.selectors import Cursor, changes_since
from tests.sync.helpers import Device

WRITERS, PULLERS, NOTES_PER_WRITER, EDITS_PER_WRITER = 8, 4, 6, 40


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_pullers_never_skip_a_change(account):
    """8 writer threads create and edit notes of one user while 4 pullers follow the feed.
    Every puller must see sequence numbers strictly in order and, once the writers stop and it
    drains the feed, hold exactly the final version of every note: a change that became visible
    behind a puller's cursor would leave it with a stale version forever."""
    owner = uuid.UUID(account.id)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        rng = random.Random(index)
        try:
            mine = [
                notes.note_create(owner_id=owner, fields={"title": f"w{index}-{n}"})[0].id
                for n in range(NOTES_PER_WRITER)
            ]
            for edit in range(EDITS_PER_WRITER):
                target = rng.choice(mine)
                if edit == EDITS_PER_WRITER - 5 and len(mine) > 1:
                    notes.note_delete(note_id=target, owner_id=owner)
                    mine.remove(target)
                    continue
                notes.note_update(note_id=target, owner_id=owner, fields={"body": f"{index}:{edit}"})
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    views: list[dict[str, int | None]] = [{} for _ in range(PULLERS)]
    orders: list[list[int]] = [[] for _ in range(PULLERS)]

    def drain(index: int, cursor: Cursor) -> Cursor:
        while True:
            page = changes_since(owner_id=owner, cursor=cursor, limit=7)
            for change in page.changes:
                orders[index].append(change["seq"])
                views[index][change["id"]] = None if change["op"] == "delete" else change["version"]
            cursor = page.cursor
            if not page.has_more:
                return cursor

    def puller(index: int) -> None:
        cursor = Cursor()
        try:
            while not done.is_set():
                cursor = drain(index, cursor)
                time.sleep(0.001)
            drain(index, cursor)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    pull_threads = [threading.Thread(target=puller, args=(i,)) for i in range(PULLERS)]
    write_threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in pull_threads + write_threads:
        thread.start()
    for thread in write_threads:
        thread.join()
    done.set()
    for thread in pull_threads:
        thread.join()

    assert errors == []
    truth = {str(n.id): (None if n.deleted_at else n.version) for n in Note.objects.filter(owner_id=owner)}
    assert len(truth) == WRITERS * NOTES_PER_WRITER
    for index in range(PULLERS):
        assert orders[index] == sorted(set(orders[index])), "sequence numbers out of order or repeated"
        assert views[index] == truth
    # Every write got its own number: creates + edits + deletes, none lost, none shared.
    from apps.sync.models import SyncCounter

    assert SyncCounter.objects.get(owner_id=owner).last_seq == WRITERS * (NOTES_PER_WRITER + EDITS_PER_WRITER)


@pytest.mark.django_db
def test_two_devices_offline_converge(account):
    phone, laptop = Device(account, "phone"), Device(account, "laptop")
    shared = phone.create("note", title="Groceries", body="milk")
    doomed = phone.create("note", title="Old idea")
    phone.sync()
    laptop.sync()
    assert phone.store == laptop.store

    # Both go offline and edit.
    phone.edit("note", shared, title="Groceries (Sat)")
    phone.delete("note", doomed)
    created_on_phone = phone.create("note", title="Call mum")
    laptop.edit("note", shared, body="milk, eggs")
    laptop.edit("note", doomed, pinned=True)  # edits what the phone deletes
    created_on_laptop = laptop.create("note", title="Book dentist")

    # Back online, in either order, twice (a second round settles the first one's merges).
    phone.sync()
    laptop.sync()
    phone.sync()
    laptop.sync()

    assert phone.store == laptop.store
    server = {
        ("note", n["id"]): n
        for n in account.client.get("/v1/notes", {"limit": 200, "archived": "all"}).json()["results"]
    }
    assert phone.store == server
    merged = server[("note", shared)]
    assert merged["title"] == "Groceries (Sat)"
    assert merged["body"] == "milk, eggs"
    assert ("note", created_on_phone) in server
    assert ("note", created_on_laptop) in server
    # The phone deleted `doomed` at the version it had seen; the laptop's later edit to it
    # arrives as a conflict with a deleted object, so the delete stands on both devices.
    assert ("note", doomed) not in server
    statuses = {r["op_id"].split("-")[0] + ":" + r["status"] for r in phone.results + laptop.results}
    assert "laptop:conflict" in statuses or "laptop:merged" in statuses
