"""Task lists and tasks through the feed and push: same rules as the REST API."""

from __future__ import annotations

import uuid

import pytest

from apps.todos.models import Task
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db


def _changes(account, cursor=""):
    return account.client.get("/v1/sync/changes", {"cursor": cursor, "limit": 1000}).json()


def test_push_list_and_tasks_then_pull(account):
    list_id, task_id, sub_id = (str(uuid.uuid4()) for _ in range(3))
    results = push(
        account,
        op("tasklist", list_id, name="Home"),
        op("task", task_id, list=list_id, title="Clean", due="2026-12-01", priority=2),
        op("task", sub_id, list=list_id, parent=task_id, title="Kitchen"),
    )
    assert [r["status"] for r in results] == ["applied"] * 3
    assert results[1]["data"]["due"] == "2026-12-01"
    rest = account.client.get(f"/v1/todos/{task_id}").json()
    assert rest == results[1]["data"]
    pulled = {c["id"]: c for c in _changes(account)["changes"]}
    assert pulled[task_id]["type"] == "task"
    assert pulled[task_id]["data"] == rest
    assert pulled[list_id]["type"] == "tasklist"


def test_task_validation_is_the_rest_validation(account):
    list_id = str(uuid.uuid4())
    push(account, op("tasklist", list_id, name="L"))
    [bad_priority, no_list] = push(
        account,
        op("task", str(uuid.uuid4()), list=list_id, title="x", priority=9),
        op("task", str(uuid.uuid4()), title="orphan"),
    )
    assert bad_priority["status"] == "rejected"
    assert "priority" in bad_priority["errors"]
    assert no_list["status"] == "rejected"
    assert "list" in no_list["errors"]


def test_task_fields_merge_and_conflict(account):
    list_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    push(account, op("tasklist", list_id, name="L"), op("task", task_id, list=list_id, title="T"))
    account.client.patch(f"/v1/todos/{task_id}", {"priority": 3}, format="json")
    [merged] = push(account, op("task", task_id, base=1, title="T2"))
    assert merged["status"] == "merged"
    assert merged["data"]["priority"] == 3
    assert merged["data"]["title"] == "T2"
    [conflict] = push(account, op("task", task_id, base=1, priority=1))
    assert conflict["status"] == "conflict"
    assert conflict["conflicts"] == [{"field": "priority", "server": 3, "client": 1}]


@pytest.mark.parametrize(
    ("server", "client"),
    [("2027-01-02", "2027-01-03"), ("2027-01-02T09:30:00+01:00", "2027-01-02"), (None, "2027-01-03")],
)
def test_a_due_conflict_reports_both_dues_as_the_api_writes_them(account, server, client):
    """A due that lost is reported in its wire form (it used to fail the op: a Due object is
    no JSON)."""
    list_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    push(
        account,
        op("tasklist", list_id, name="L"),
        op("task", task_id, list=list_id, title="T", due="2027-01-01"),
    )
    account.client.patch(f"/v1/todos/{task_id}", {"due": server}, format="json")
    [conflict] = push(account, op("task", task_id, base=1, due=client))
    assert conflict["status"] == "conflict", conflict
    assert conflict["conflicts"] == [{"field": "due", "server": server, "client": client}]


def test_completing_a_recurring_task_by_push_advances_it(account):
    list_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    push(
        account,
        op("tasklist", list_id, name="L"),
        op(
            "task",
            task_id,
            list=list_id,
            title="Rent",
            due="2026-01-31",
            recurrence={"freq": "monthly", "interval": 1},
        ),
    )
    [done] = push(account, op("task", task_id, base=1, done=True))
    assert done["status"] == "applied"
    assert done["data"]["due"] == "2026-02-28"
    assert done["data"]["done"] is False
    assert done["data"]["completion_count"] == 1


def test_deleting_a_list_puts_every_task_tombstone_in_the_feed(account):
    list_id = str(uuid.uuid4())
    tasks = [str(uuid.uuid4()) for _ in range(3)]
    push(account, op("tasklist", list_id, name="L"), *[op("task", t, list=list_id, title=t) for t in tasks])
    cursor = _changes(account)["cursor"]
    assert account.client.delete(f"/v1/todos/lists/{list_id}").status_code == 204
    changes = _changes(account, cursor)["changes"]
    assert {c["id"] for c in changes} == {list_id, *tasks}
    assert {c["op"] for c in changes} == {"delete"}
    assert Task.objects.filter(id__in=tasks, deleted_at__isnull=False).count() == 3


def test_bulk_complete_reaches_the_feed(account):
    list_id = str(uuid.uuid4())
    tasks = [str(uuid.uuid4()) for _ in range(3)]
    push(account, op("tasklist", list_id, name="L"), *[op("task", t, list=list_id, title=t) for t in tasks])
    cursor = _changes(account)["cursor"]
    response = account.client.post("/v1/todos/bulk", {"action": "complete", "ids": tasks}, format="json")
    assert response.status_code == 200
    changes = _changes(account, cursor)["changes"]
    assert {c["id"] for c in changes} == set(tasks)
    assert all(c["data"]["done"] for c in changes)


def test_placement_after_a_sibling_by_push(account):
    list_id, first, second, between = (str(uuid.uuid4()) for _ in range(4))
    push(
        account,
        op("tasklist", list_id, name="L"),
        op("task", first, list=list_id, title="1"),
        op("task", second, list=list_id, title="2"),
    )
    [placed] = push(account, op("task", between, list=list_id, title="1.5", after=first))
    ordered = account.client.get("/v1/todos", {"list": list_id, "ordering": "position"}).json()["results"]
    assert [t["id"] for t in ordered] == [first, between, second]
    assert placed["status"] == "applied"
