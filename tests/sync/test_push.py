"""Pushing operations: per-op results, idempotency, per-field merge, conflicts kept as revisions."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from apps.notes.models import Note, NoteRevision
from apps.sync.models import PushedOp
from tests.conftest import assert_problem
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db
DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.1},
    }
}


def _new_id() -> str:
    return str(uuid.uuid4())


def test_create_update_delete_applied(account):
    note_id = _new_id()
    [created] = push(account, op("note", note_id, title="Hello", body="x"))
    assert created["status"] == "applied"
    assert created["version"] == 1
    assert created["data"]["title"] == "Hello"
    assert account.client.get(f"/v1/notes/{note_id}").json()["title"] == "Hello"
    [updated] = push(account, op("note", note_id, base=1, title="Hi"))
    assert updated["status"] == "applied"
    assert updated["version"] == 2
    [deleted] = push(account, op("note", note_id, action="delete", base=2))
    assert deleted["status"] == "applied"
    assert deleted["data"] is None
    assert_problem(account.client.get(f"/v1/notes/{note_id}"), 404)


def test_results_follow_op_order_and_a_bad_op_never_fails_the_batch(account):
    good, bad = _new_id(), _new_id()
    results = push(
        account,
        op("note", good, title="ok"),
        op("note", bad, tags="not-a-list"),
        {"op_id": "broken", "type": "spaceship", "action": "upsert", "id": _new_id()},
        {"nonsense": True},
        op("note", _new_id(), body="z" * 10, title="also ok"),
    )
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected", "applied"]
    assert results[1]["code"] == "validation_error"
    assert "tags" in results[1]["errors"]
    assert "type" in results[2]["errors"]
    assert [r["type"] for r in results] == ["note", "note", None, None, "note"]  # known types only
    assert Note.objects.filter(id=good).exists()
    assert not Note.objects.filter(id=bad).exists()


def test_too_large_note_body_is_rejected_alone(account, settings):
    settings.NOTE_BODY_MAX_BYTES = 1024
    results = push(account, op("note", _new_id(), body="x" * 2000), op("note", _new_id(), body="fine"))
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "note_too_large"


def test_retry_returns_original_result_and_applies_once(account):
    note_id = _new_id()
    first = push(account, op("note", note_id, op_id="same-op", title="once"))
    # The client never saw the answer and edited nothing: the same op again, twice.
    again = push(account, op("note", note_id, op_id="same-op", title="once"))
    third = push(account, op("note", note_id, op_id="same-op", title="once"))
    assert first == again == third
    assert Note.objects.filter(owner_id=account.id).count() == 1
    assert Note.objects.get(id=note_id).version == 1


def test_retry_of_an_update_does_not_apply_twice(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="v1"))
    [first] = push(account, op("note", note_id, op_id="edit-1", base=1, title="v2"))
    push(account, op("note", note_id, base=2, title="v3"))
    [retry] = push(account, op("note", note_id, op_id="edit-1", base=1, title="v2"))
    assert retry == first
    assert Note.objects.get(id=note_id).title == "v3"


def test_dedup_holds_with_redis_down(account):
    note_id = _new_id()
    with override_settings(CACHES=DEAD_REDIS):
        first = push(account, op("note", note_id, op_id="no-redis", title="x"))
        again = push(account, op("note", note_id, op_id="no-redis", title="x"))
    assert first == again
    assert Note.objects.filter(id=note_id).count() == 1
    assert PushedOp.objects.filter(owner_id=account.id, op_id="no-redis").count() == 1


def test_same_op_twice_in_one_batch_applies_once(account):
    note_id = _new_id()
    results = push(
        account, op("note", note_id, op_id="dup", title="a"), op("note", note_id, op_id="dup", title="a")
    )
    assert results[0] == results[1]
    assert Note.objects.get(id=note_id).version == 1


def test_disjoint_fields_merge(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T", body="B"))
    # The server (another device) changes the title; this client, still at v1, changes the body.
    account.client.patch(f"/v1/notes/{note_id}", {"title": "T server"}, format="json")
    [merged] = push(account, op("note", note_id, base=1, body="B client"))
    assert merged["status"] == "merged"
    assert merged["version"] == 3
    assert merged["data"]["title"] == "T server"
    assert merged["data"]["body"] == "B client"


def test_overlap_conflicts_keeps_server_value_and_client_text_as_revision(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T", body="original"))
    account.client.patch(f"/v1/notes/{note_id}", {"body": "server text"}, format="json")
    [result] = push(account, op("note", note_id, base=1, body="client text", pinned=True))
    assert result["status"] == "conflict"
    kept = NoteRevision.objects.filter(note_id=note_id, reason=NoteRevision.Reason.CONFLICT).get()
    assert result["conflicts"] == [
        {"field": "body", "server": "server text", "client": "client text", "revision": kept.number}
    ]
    note = account.client.get(f"/v1/notes/{note_id}").json()
    assert note["body"] == "server text"
    assert note["pinned"] is True  # the non-overlapping field still applied
    assert kept.body == "client text"
    revisions = account.client.get(f"/v1/notes/{note_id}/revisions").json()["results"]
    assert any(r["reason"] == "conflict" for r in revisions)
    # The conflict names the revision a client links to, and it holds the losing text.
    linked = account.client.get(f"/v1/notes/{note_id}/revisions/{kept.number}").json()
    assert linked["body"] == "client text"


def test_a_task_conflict_names_no_revision(account):
    task_list = account.client.post("/v1/todos/lists", {"name": "L"}, format="json").json()
    task_id = _new_id()
    push(account, op("task", task_id, list=task_list["id"], title="T"))
    account.client.patch(f"/v1/todos/{task_id}", {"title": "server"}, format="json")
    [result] = push(account, op("task", task_id, base=1, title="client"))
    assert result["status"] == "conflict"
    assert result["conflicts"] == [{"field": "title", "server": "server", "client": "client"}]


def test_same_value_on_both_sides_is_no_conflict(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T"))
    account.client.patch(f"/v1/notes/{note_id}", {"title": "Same"}, format="json")
    [result] = push(account, op("note", note_id, base=1, title="Same"))
    assert result["status"] == "merged"


def test_create_of_existing_id_is_upsert_against_base_zero(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T", body="B"))
    [result] = push(account, op("note", note_id, title="Other"))
    assert result["status"] == "conflict"
    assert {c["field"] for c in result["conflicts"]} == {"title"}


def test_id_of_another_user_is_rejected_without_revealing(account, other_account):
    note_id = _new_id()
    push(other_account, op("note", note_id, title="theirs"))
    [result] = push(account, op("note", note_id, title="mine"))
    assert result["status"] == "rejected"
    assert result["code"] == "id_conflict"
    assert "theirs" not in str(result)
    [deleted] = push(account, op("note", note_id, action="delete", base=1))
    assert deleted["status"] == "applied"
    assert Note.objects.get(id=note_id).deleted_at is None


def test_delete_of_changed_object_conflicts(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T"))
    account.client.patch(f"/v1/notes/{note_id}", {"title": "edited"}, format="json")
    [result] = push(account, op("note", note_id, action="delete", base=1))
    assert result["status"] == "conflict"
    assert Note.objects.get(id=note_id).deleted_at is None


def test_edit_of_deleted_object_conflicts(account):
    note_id = _new_id()
    push(account, op("note", note_id, title="T"))
    account.client.delete(f"/v1/notes/{note_id}")
    [result] = push(account, op("note", note_id, base=1, title="late edit"))
    assert result["status"] == "conflict"
    assert result["conflicts"][0]["reason"] == "deleted"


def test_server_owned_fields_are_ignored(account):
    note_id = _new_id()
    [result] = push(account, op("note", note_id, title="T", version=99, owner=str(uuid.uuid4())))
    assert result["status"] == "applied"
    assert result["version"] == 1
    assert Note.objects.get(id=note_id).owner_id == uuid.UUID(account.id)


def test_batch_size_is_bounded(account, settings):
    settings.SYNC_PUSH_MAX_OPS = 2
    ops = [op("note", _new_id(), title=str(i)) for i in range(3)]
    assert_problem(account.client.post("/v1/sync/push", {"ops": ops}, format="json"), 413, "push_too_large")
    assert not Note.objects.filter(owner_id=account.id).exists()
    assert_problem(account.client.post("/v1/sync/push", {"ops": []}, format="json"), 400, "validation_error")
    assert_problem(account.client.post("/v1/sync/push", {"ops": "x"}, format="json"), 400, "validation_error")


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_apply_once(account):
    note_id = _new_id()
    body = {"ops": [op("note", note_id, op_id="race", title="once")]}
    results, barrier = [], threading.Barrier(4)

    def send() -> None:
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {account.access}")
        barrier.wait()
        try:
            results.append(client.post("/v1/sync/push", body, format="json").json()["results"][0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(r == results[0] for r in results)
    assert Note.objects.filter(id=note_id).count() == 1
    assert Note.objects.get(id=note_id).version == 1
    assert PushedOp.objects.filter(op_id="race").count() == 1


@pytest.mark.parametrize("kind", ["note", "task"])
def test_an_edit_through_push_locks_and_saves_once(account, kind):
    """One op takes the one-by-one path: the feed lock and the object's row lock once each, one
    UPDATE of the object (the service gets the object locked and the fields cleaned)."""
    object_id, fields = str(uuid.uuid4()), {"title": "first"}
    if kind == "task":
        list_id = str(uuid.uuid4())
        push(account, op("tasklist", list_id, name="L"))
        fields["list"] = list_id
    push(account, op(kind, object_id, **fields))
    table = {"note": "notes_note", "task": "todos_task"}[kind]
    with CaptureQueriesContext(connections["default"]) as queries:
        [result] = push(account, op(kind, object_id, base=1, title="second"))
    assert result["status"] == "applied", result
    statements = [q["sql"] for q in queries]
    assert sum("FOR UPDATE" in sql for sql in statements) == 2, statements
    assert sum(sql.startswith(f'UPDATE "{table}"') for sql in statements) == 1, statements
