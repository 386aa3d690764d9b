"""A push of new notes takes the bulk path (one INSERT for the batch, sync/services.py
`_create_new_in_bulk`); the same ops pushed one at a time take the full path. Both must give the
same results, the same notes and the same feed entries, for every batch Hypothesis makes up:
valid and invalid fields, repeated op_ids, repeated object ids, deletes mixed in."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.notes import services as notes_services
from apps.notes.models import Note
from tests.conftest import Account
from tests.sync.helpers import push

pytestmark = pytest.mark.django_db

_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "title": st.one_of(
            st.text(max_size=12), st.integers(), st.text(alphabet="x", min_size=501, max_size=501)
        ),
        "body": st.text(max_size=30),
        "tags": st.lists(st.text(max_size=8), max_size=4),
        "pinned": st.one_of(st.booleans(), st.just("yes")),
        "files": st.just([]),
    },
)
# Each op: which of the object slots it names, whether it reuses the previous op_id, and what.
SLOTS = 16
_OPS = st.lists(
    st.tuples(
        st.integers(0, SLOTS - 1),
        st.sampled_from([False] * 5 + [True]),
        st.sampled_from(["upsert"] * 5 + ["delete"]),
        _FIELDS,
    ),
    min_size=2,
    max_size=12,
)


def _comparable(result: dict[str, Any], slots: dict[str, int]) -> dict[str, Any]:
    """A result without what differs between the two accounts by construction (ids, op_ids,
    timestamps), object ids replaced by their slot."""
    out = {k: v for k, v in result.items() if k not in ("op_id", "id")}
    out["slot"] = slots.get(result.get("id") or "")
    if isinstance(out.get("data"), dict):
        out["data"] = {k: v for k, v in out["data"].items() if k not in ("id", "created_at", "updated_at")}
    return out


def _run(
    account: Account, plan: list[Any], *, together: bool
) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    ids = [str(uuid.uuid4()) for _ in range(SLOTS)]
    slots = {object_id: slot for slot, object_id in enumerate(ids)}
    ops = []
    for index, (slot, reuse, action, fields) in enumerate(plan):
        op_id = f"op-{index - 1}" if reuse and index else f"op-{index}"
        ops.append(
            {
                "op_id": op_id,
                "type": "note",
                "action": action,
                "id": ids[slot],
                "base_version": 0,
                "fields": fields,
            }
        )
    results = push(account, *ops) if together else [result for op in ops for result in push(account, op)]
    notes = sorted(
        (slots[str(n.id)], n.title, n.body, n.tags, n.pinned, n.version, n.deleted_at is None)
        for n in Note.objects.filter(owner_id=account.id)
    )
    changes = account.client.get("/v1/sync/changes", {"limit": 1000}).json()["changes"]
    # Per object: the batch commits as one, so which of its objects got the lower seq is not
    # observable by a puller (the bulk path numbers its creates first).
    feed = sorted((slots[change["id"]], change["op"], change["version"]) for change in changes)
    assert [change["seq"] for change in changes] == sorted(change["seq"] for change in changes)
    return [_comparable(result, slots) for result in results], notes, feed


@settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(plan=_OPS)
def test_a_batch_gives_what_the_same_ops_one_by_one_give(make_account: Any, plan: list[Any]) -> None:
    together = _run(make_account(), plan, together=True)
    alone = _run(make_account(), plan, together=False)
    assert together == alone


@pytest.mark.django_db(transaction=True)
def test_a_create_racing_the_bulk_insert_falls_back_one_by_one(make_account: Any) -> None:
    """Another account creates a note with one of the batch's ids after the batch checked that
    the ids were free and before its INSERT commits: the bulk INSERT meets the unique index
    (IntegrityError), the batch falls back to one by one, that op is `id_conflict` and the
    others apply — the same results as if the other note had been there from the start."""
    mine, theirs = make_account(), make_account()
    contested = str(uuid.uuid4())
    ops = [
        {"op_id": f"r{n}", "type": "note", "action": "upsert", "id": object_id, "fields": {"title": f"t{n}"}}
        for n, object_id in enumerate([str(uuid.uuid4()), contested, str(uuid.uuid4())])
    ]
    inserted, release = threading.Event(), threading.Event()

    def rival() -> None:
        try:
            with transaction.atomic():  # holds the row uncommitted until the push waits on it
                notes_services.note_create(
                    owner_id=uuid.UUID(theirs.id), fields={"title": "first"}, note_id=uuid.UUID(contested)
                )
                inserted.set()
                release.wait(10)
                time.sleep(0.3)  # the push is blocked on the unique index by now
        finally:
            connections.close_all()

    thread = threading.Thread(target=rival)
    thread.start()
    assert inserted.wait(10)
    release.set()
    results = push(mine, *ops)
    thread.join()
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "id_conflict"
    assert Note.objects.get(id=contested).owner_id == uuid.UUID(theirs.id)
    assert sorted(Note.objects.filter(owner_id=mine.id).values_list("title", flat=True)) == ["t0", "t2"]
