"""Note text counts towards the one storage quota (issue 12: notes were unbounded).

The notes' part is kept by PostgreSQL triggers (NoteStorage, migration 0004); the property test
drives every write path that touches note text — REST create/edit/put/restore/delete, sync push
(bulk creates, edits, conflicts whose losing text becomes a revision, deletes), pruning,
purging — and after each step compares the counter with a recount from the rows in Python."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.notes.models import Note, NoteRevision, NoteStorage
from apps.notes.selectors import note_storage_usage
from tests.conftest import Account, assert_problem
from tests.library import factories
from tests.library.conftest import upload
from tests.notes.conftest import URL, create_note, detail
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db


def recount(user_id: str) -> int:
    """The notes' bytes as the quota defines them, from the rows (not from the counter)."""
    live = Note.objects.filter(owner_id=user_id, deleted_at__isnull=True)
    notes = sum(len(n.title.encode()) + len(n.body.encode()) for n in live)
    revisions = sum(
        len(r.title.encode()) + len(r.body.encode()) for r in NoteRevision.objects.filter(note__in=live)
    )
    return notes + revisions


def counted(user_id: str) -> int:
    return note_storage_usage(user_id=uuid.UUID(user_id))


TEXT = st.text(alphabet=st.sampled_from("ab é€😀\n"), max_size=40)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), TEXT, TEXT),
        st.tuples(st.just("push_create"), st.lists(TEXT, min_size=2, max_size=4)),
        st.tuples(st.just("edit"), st.integers(0, 5), TEXT),
        st.tuples(st.just("push_conflict"), st.integers(0, 5), TEXT),
        st.tuples(st.just("restore"), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(
            st.just("purge"),
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(steps=STEPS)
@override_settings(NOTE_REVISIONS_KEPT=2)  # pruning happens within a few edits
def test_the_counter_matches_a_recount_after_every_write(
    make_account: Any, steps: list[tuple[Any, ...]]
) -> None:
    account: Account = make_account()
    notes: list[dict[str, Any]] = []

    def pick(index: int) -> dict[str, Any] | None:
        live = [n for n in notes if Note.objects.filter(id=n["id"], deleted_at__isnull=True).exists()]
        return live[index % len(live)] if live else None

    for step in steps:
        kind = step[0]
        if kind == "create":
            notes.append(create_note(account, title=step[1], body=step[2]))
        elif kind == "push_create":
            results = push(account, *(op("note", str(uuid.uuid4()), body=body) for body in step[1]))
            notes.extend(result["data"] for result in results)
        elif kind == "edit" and (note := pick(step[1])) is not None:
            account.client.patch(detail(note["id"]), {"body": step[2] + "!"}, format="json")
        elif kind == "push_conflict" and (note := pick(step[1])) is not None:
            # Based on version 1 while the server moved on: the body conflicts, the losing
            # text is kept as a revision (or it merges when nothing changed since).
            push(account, op("note", note["id"], base=1, body=step[2] + "?"))
        elif kind == "restore" and (note := pick(step[1])) is not None:
            revisions = account.client.get(f"{detail(note['id'])}/revisions").json()["results"]
            if revisions:
                account.client.post(f"{detail(note['id'])}/revisions/{revisions[-1]['number']}/restore")
        elif kind == "delete" and (note := pick(step[1])) is not None:
            account.client.delete(detail(note["id"]))
        elif kind == "purge":
            Note.objects.filter(owner_id=account.id, deleted_at__isnull=False).update(
                deleted_at=timezone.now() - timedelta(days=40)
            )
            call_command("purge_tombstones")
        assert counted(account.id) == recount(account.id), step
    response = account.client.get("/v1/users/me").json()["storage"]
    assert response["parts"]["notes"] == recount(account.id)


def test_deleting_the_account_with_notes_and_revisions_works(account: Account) -> None:
    note = create_note(account, title="t", body="one")
    account.client.patch(detail(note["id"]), {"body": "two"}, format="json")
    assert NoteStorage.objects.filter(owner_id=account.id).exists()
    assert account.client.delete("/v1/users/me").status_code == 204
    assert not NoteStorage.objects.filter(owner_id=account.id).exists()


# --- the quota itself -------------------------------------------------------------------------------


def test_notes_cannot_grow_past_the_quota(account: Account) -> None:
    with override_settings(USER_STORAGE_QUOTA_BYTES=100):
        note = create_note(account, body="x" * 40)
        problem = assert_problem(
            account.client.post(URL, {"body": "y" * 61}, format="json"), 413, "quota_exceeded"
        )
        assert (problem["used_bytes"], problem["quota_bytes"]) == (40, 100)
        assert Note.objects.filter(owner_id=account.id).count() == 1
        # An edit keeps the old text as a revision: 40 kept + 61 new does not fit either.
        assert_problem(account.client.patch(detail(note["id"]), {"body": "z" * 61}, format="json"), 413)
        assert Note.objects.get(id=note["id"]).body == "x" * 40
        # Edits that do fit go through, and so does everything that does not add text.
        assert account.client.patch(detail(note["id"]), {"body": "x" * 20}, format="json").status_code == 200
        assert account.client.patch(detail(note["id"]), {"pinned": True}, format="json").status_code == 200
        assert counted(account.id) == 60
        # Deleting frees the note and its revisions at once.
        assert account.client.delete(detail(note["id"])).status_code == 204
        assert counted(account.id) == 0
        assert account.client.post(URL, {"body": "y" * 100}, format="json").status_code == 201


def test_a_user_over_a_lowered_quota_can_still_edit_down(account: Account) -> None:
    note = create_note(account, body="x" * 80)
    with override_settings(USER_STORAGE_QUOTA_BYTES=50):
        assert (
            account.client.patch(detail(note["id"]), {"title": "renamed"}, format="json").status_code == 413
        )
        assert account.client.patch(detail(note["id"]), {"archived": True}, format="json").status_code == 200
        assert account.client.delete(detail(note["id"])).status_code == 204


def test_pushed_notes_that_do_not_fit_are_rejected_one_by_one(account: Account) -> None:
    with override_settings(USER_STORAGE_QUOTA_BYTES=100):
        ops = [op("note", str(uuid.uuid4()), body=body) for body in ("a" * 40, "b" * 40, "c" * 40, "d" * 10)]
        results = push(account, *ops)
        assert [r["status"] for r in results] == ["applied", "applied", "rejected", "applied"]
        assert results[2]["code"] == "quota_exceeded"
        assert counted(account.id) == 90


def test_files_and_notes_share_the_quota(account: Account) -> None:
    data = factories.pdf_bytes()
    with override_settings(USER_STORAGE_QUOTA_BYTES=len(data) + 50):
        create_note(account, body="n" * 60)
        assert_problem(upload(account.client, data, "book.pdf"), 413, "quota_exceeded")
        storage = account.client.get("/v1/users/me").json()["storage"]
        assert storage["parts"] == {"files": 0, "notes": 60}
        assert storage["used_bytes"] == 60
