"""A push of edits to existing notes and tasks takes the batched path (sync/services.py
`_update_existing_in_bulk`: the rows locked in one statement, merged per field, written in a
few); the same ops pushed one at a time take the full path. Both must give the same results,
objects, revisions and feed entries, for every batch Hypothesis makes up over objects at
different versions: current, stale (merged) and conflicting bases, bases ahead of the server,
deleted and missing objects, another user's object, invalid fields, fields the batched path
leaves to the full one (file links, completion, due), repeated op_ids and object ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common import quota
from apps.notes import services as notes_services
from apps.notes.models import Note, NoteRevision
from apps.todos.models import Task
from tests.conftest import Account
from tests.sync.helpers import push

pytestmark = pytest.mark.django_db

# Slots 0-7 are live objects at versions 1, 2 and 3; 8 is deleted; 9 never existed; 10 is
# another user's.
LIVE, DELETED, MISSING, THEIRS = range(8), 8, 9, 10


@dataclass(frozen=True)
class Kind:
    type: str
    created: dict[str, Any]  # a seeded object's fields
    edits: tuple[dict[str, Any], dict[str, Any]]  # slot k gets the first k % 3 of them
    plain: dict[str, st.SearchStrategy[Any]]  # fields the batched path takes as they are
    odd: dict[str, st.SearchStrategy[Any]]  # refused, cleaned by the serializer, or left to it
    state: Callable[[Account, dict[str, int]], list[Any]]  # the account's objects, comparable


def _notes(account: Account, slots: dict[str, int]) -> list[Any]:
    notes = sorted(
        (
            slots[str(n.id)],
            n.title,
            n.body,
            n.tags,
            n.pinned,
            n.archived,
            n.version,
            n.field_versions,
            n.is_deleted,
        )
        for n in Note.objects.filter(owner_id=account.id)
    )
    revisions = sorted(
        (slots[str(r.note_id)], r.number, r.title, r.body, r.reason, r.note_version)
        for r in NoteRevision.objects.filter(note__owner_id=account.id)
    )
    return [notes, revisions]


def _tasks(account: Account, slots: dict[str, int]) -> list[Any]:
    return sorted(
        (
            slots[str(t.id)],
            t.title,
            t.notes,
            t.priority,
            t.tags,
            t.done,
            t.due_date,
            t.version,
            t.field_versions,
            t.is_deleted,
        )
        for t in Task.objects.filter(owner_id=account.id)
    )


NOTES = Kind(
    type="note",
    created={"title": "seeded", "body": "body 1", "tags": ["a"]},
    edits=({"title": "edited", "pinned": True}, {"body": "body 2", "tags": ["b"]}),
    plain={
        "title": st.sampled_from(["a", "b", "seeded", "edited"]),
        "body": st.sampled_from(["x", "y", "body 2"]),
        "tags": st.lists(st.sampled_from(["A", "b", "c d", " e "]), max_size=3),
        "pinned": st.booleans(),
        "archived": st.booleans(),
    },
    odd={
        "title": st.one_of(st.text(max_size=6), st.integers(), st.just(" padded ")),
        "body": st.text(max_size=20),
        "tags": st.one_of(st.just("x"), st.just([""])),
        "pinned": st.just("yes"),
        "files": st.just([]),
    },
    state=_notes,
)
TASKS = Kind(
    type="task",
    created={"title": "seeded", "notes": "notes 1", "tags": ["a"]},
    edits=({"title": "edited", "priority": 2}, {"notes": "notes 2", "tags": ["b"]}),
    plain={
        "title": st.sampled_from(["a", "b", "seeded", "edited"]),
        "notes": st.sampled_from(["x", "", "notes 2"]),
        "priority": st.integers(0, 3),
        "tags": st.lists(st.sampled_from(["A", "b", "c d", " e "]), max_size=3),
    },
    odd={
        "title": st.one_of(st.text(max_size=6), st.just(""), st.just(" padded ")),
        "notes": st.text(max_size=20),
        "priority": st.one_of(st.just(7), st.just("2"), st.just(True)),
        "done": st.booleans(),
        "due": st.just("2027-01-01"),
    },
    state=_tasks,
)


def _fields(kind: Kind) -> st.SearchStrategy[dict[str, Any]]:
    plain = st.fixed_dictionaries({}, optional=kind.plain)
    return st.one_of(plain, plain, st.fixed_dictionaries({}, optional={**kind.plain, **kind.odd}))


# A base relative to the object's seeded version: the current one, one or two behind (a field
# changed since may conflict), none, or one the server never issued.
_BASES = st.sampled_from(["current"] * 4 + ["behind"] * 3 + ["far behind", "zero", "ahead"])


def _plans(kind: Kind) -> st.SearchStrategy[list[Any]]:
    """Edits of distinct live objects (what the batched path takes, unless a base or a field
    says otherwise), mixed in any order with ops on any slot (repeats, deletes, the rest)."""
    fields = _fields(kind)
    edits = st.lists(st.sampled_from(LIVE), min_size=3, max_size=8, unique=True).flatmap(
        lambda slots: st.tuples(
            *[st.tuples(st.just(slot), st.just(False), st.just("upsert"), _BASES, fields) for slot in slots]
        )
    )
    others = st.lists(
        st.tuples(
            st.integers(0, THEIRS),
            st.sampled_from([False] * 7 + [True]),  # reuse the previous op_id
            st.sampled_from(["upsert"] * 7 + ["delete"]),
            _BASES,
            fields,
        ),
        max_size=6,
    )
    return st.tuples(edits, others).flatmap(lambda both: st.permutations([*both[0], *both[1]]))


def _version(slot: int) -> int:
    """A slot's seeded version (see _seed): created, edited slot % 3 times, deleted for DELETED."""
    return 1 + slot % 3 + (slot == DELETED) if slot <= DELETED else 1


def _base(slot: int, base: str) -> int:
    current = _version(slot)
    relative = {
        "current": current,
        "behind": current - 1,
        "far behind": current - 2,
        "zero": 0,
        "ahead": current + 1,
    }
    return max(0, relative[base])


def _op(kind: Kind, object_id: uuid.UUID, base: int, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "op_id": f"seed-{uuid.uuid4()}",
        "type": kind.type,
        "action": "upsert",
        "id": str(object_id),
        "base_version": base,
        "fields": fields,
        **extra,
    }


def _create(account: Account, kind: Kind, object_id: uuid.UUID, fields: dict[str, Any]) -> None:
    if kind.type == "task":
        list_id = str(uuid.uuid4())
        push(account, {**_op(kind, uuid.UUID(list_id), 0, {"name": "seeded"}), "type": "tasklist"})
        fields = {**fields, "list": list_id}
    [result] = push(account, _op(kind, object_id, 0, fields))
    assert result["status"] == "applied", result


def _seed(account: Account, kind: Kind, theirs: uuid.UUID) -> list[uuid.UUID]:
    """The same objects in every account, each written by a push of its own (the full path):
    slot k was edited k % 3 times, the last edit changing the fields the previous one did not."""
    ids = [uuid.uuid4() for _ in range(MISSING + 1)] + [theirs]
    for slot in [*LIVE, DELETED]:
        _create(account, kind, ids[slot], {**kind.created, "title": f"seeded {slot}"})
        for version, fields in enumerate(kind.edits[: slot % 3], start=1):
            [result] = push(account, _op(kind, ids[slot], version, fields))
            assert result["status"] == "applied", result
    [result] = push(account, {**_op(kind, ids[DELETED], _version(DELETED) - 1, {}), "action": "delete"})
    assert result["status"] == "applied", result
    return ids


def _comparable(result: dict[str, Any], slots: dict[str, int]) -> dict[str, Any]:
    """A result without what differs between two accounts by construction (ids, op_ids, lists,
    positions), object ids replaced by their slot, timestamps by whether they are set."""
    out = {key: value for key, value in result.items() if key not in ("op_id", "id")}
    out["slot"] = slots.get(result.get("id") or "")
    if isinstance(out.get("data"), dict):
        out["data"] = {
            key: value is not None if key.endswith("_at") else value
            for key, value in out["data"].items()
            if key not in ("id", "list", "position")
        }
    return out


def _run(
    account: Account, kind: Kind, theirs: uuid.UUID, plan: list[Any], *, together: bool
) -> tuple[Any, ...]:
    ids = _seed(account, kind, theirs)
    slots = {str(object_id): slot for slot, object_id in enumerate(ids)}
    ops = [
        {
            "op_id": f"op-{index - 1}" if reuse and index else f"op-{index}",
            "type": kind.type,
            "action": action,
            "id": str(ids[slot]),
            "base_version": _base(slot, base),
            "fields": fields,
        }
        for index, (slot, reuse, action, base, fields) in enumerate(plan)
    ]
    cursor = account.client.get("/v1/sync/changes", {"limit": 1000}).json()["cursor"]
    results = push(account, *ops) if together else [result for op in ops for result in push(account, op)]
    # What a device that had pulled just before the push pulls after it: every object the push
    # changed, once, at its new version (the order within one commit is not observable).
    changes = account.client.get("/v1/sync/changes", {"cursor": cursor, "limit": 1000}).json()["changes"]
    feed = sorted(
        (change["type"], slots.get(change["id"]), change["op"], change["version"]) for change in changes
    )
    return [_comparable(result, slots) for result in results], kind.state(account, slots), feed


_EXAMPLES = settings(
    max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def _same_both_ways(make_account: Any, kind: Kind, plan: list[Any]) -> None:
    stranger = make_account()
    theirs = uuid.uuid4()
    _create(stranger, kind, theirs, {"title": "not yours"})
    with override_settings(NOTE_REVISIONS_KEPT=2):  # every edit of a twice-edited note prunes
        together = _run(make_account(), kind, theirs, plan, together=True)
        alone = _run(make_account(), kind, theirs, plan, together=False)
    assert together == alone


@_EXAMPLES
@given(plan=_plans(NOTES))
def test_a_batch_of_note_edits_gives_what_the_same_ops_one_by_one_give(
    make_account: Any, plan: list[Any]
) -> None:
    _same_both_ways(make_account, NOTES, plan)


@_EXAMPLES
@given(plan=_plans(TASKS))
def test_a_batch_of_task_edits_gives_what_the_same_ops_one_by_one_give(
    make_account: Any, plan: list[Any]
) -> None:
    _same_both_ways(make_account, TASKS, plan)


def _edits(account: Account, count: int) -> tuple[list[uuid.UUID], list[dict[str, Any]]]:
    owner = uuid.UUID(account.id)
    ids = [uuid.uuid4() for _ in range(count)]
    for note_id in ids:
        notes_services.note_create(owner_id=owner, note_id=note_id, fields={"title": "draft", "body": "v1"})
    ops = [
        {
            "op_id": f"edit-{n}",
            "type": "note",
            "action": "upsert",
            "id": str(note_id),
            "base_version": 1,
            "fields": {"body": f"v2 of {n}", "tags": ["Edited"]},
        }
        for n, note_id in enumerate(ids)
    ]
    return ids, ops


def test_a_hundred_edits_cost_a_fixed_number_of_statements(account: Account) -> None:
    ids, ops = _edits(account, 100)
    with CaptureQueriesContext(connections["default"]) as queries:
        results = push(account, *ops)
    assert {r["status"] for r in results} == {"applied"}
    assert {r["version"] for r in results} == {2}
    assert results[7]["data"]["body"] == "v2 of 7"
    assert results[7]["data"]["tags"] == ["edited"]
    # Session check, feed lock, stored results, the batch: lock, revision numbers, revisions,
    # update, feed, file links, results — not a dozen per op.
    assert len(queries) <= 20, [q["sql"][:80] for q in queries]
    assert NoteRevision.objects.filter(note_id__in=ids, body="v1", note_version=1).count() == 100
    assert Note.objects.filter(id__in=ids, version=2, body__startswith="v2 of").count() == 100


def test_a_batch_over_the_quota_is_applied_one_by_one(account: Account) -> None:
    """The batch's growth is checked once; over the quota, the batch goes one by one, which
    applies the edits that fit and refuses the rest — as if it had never been batched."""
    _ids, ops = _edits(account, 4)
    used = quota.used(user_id=uuid.UUID(account.id))
    for op in ops:
        op["fields"] = {"body": "x" * 1000}
    with override_settings(USER_STORAGE_QUOTA_BYTES=used + 2500):
        results = push(account, *ops)
    assert [r["status"] for r in results] == ["applied", "applied", "rejected", "rejected"]
    assert {r.get("code") for r in results[2:]} == {"quota_exceeded"}
