"""field_versions: for every client-editable field, the version at which it last changed."""

from __future__ import annotations

from typing import Any

from apps.todos.models import Task, TaskList
from tests.conftest import Account

from .conftest import BULK, LISTS, TASKS, get_task, make_list, make_task, patch_task

# Every field a client may edit is stamped (the model's list: a new field is covered as it is added).
TASK_FIELDS = set(Task.editable_fields)
LIST_FIELDS = set(TaskList.editable_fields)


def test_create_stamps_every_field_with_1(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox)
    assert task["field_versions"] == dict.fromkeys(TASK_FIELDS, 1)
    assert inbox["field_versions"] == dict.fromkeys(LIST_FIELDS, 1)


def test_each_write_stamps_exactly_what_changed(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, title="a", tags=["x"])
    v2 = patch_task(account, task["id"], title="b", tags=["X"])  # tags normalise to the same value
    assert v2["version"] == 2
    assert v2["field_versions"] == {**dict.fromkeys(TASK_FIELDS, 1), "title": 2}
    v3 = patch_task(account, task["id"], done=True, due="2025-01-01")
    assert v3["field_versions"]["done"] == v3["field_versions"]["due"] == 3
    assert v3["field_versions"]["title"] == 2

    # A write that changes nothing keeps the version (and every stamp).
    same = patch_task(account, task["id"], title="b", done=True, priority=0)
    assert same["version"] == 3
    assert same["field_versions"] == v3["field_versions"]

    # PUT resets omitted fields to their defaults: only the fields that really change are stamped.
    response = account.client.put(
        f"{TASKS}/{task['id']}", {"title": "b", "list": inbox["id"], "tags": ["x"]}, format="json"
    )
    assert response.status_code == 200, response.content
    v4 = response.json()
    assert v4["version"] == 4
    assert (v4["done"], v4["due"]) == (False, None)
    assert v4["field_versions"]["done"] == v4["field_versions"]["due"] == 4
    assert v4["field_versions"]["title"] == 2
    assert v4["field_versions"]["tags"] == 1
    assert v4["position"] == task["position"]


def test_moves_and_bulk_writes_stamp_too(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    task = make_task(account, inbox)
    other = make_task(account, inbox)
    moved = account.client.post(
        BULK, {"action": "move", "ids": [task["id"]], "list": target["id"]}, format="json"
    )
    stamps = moved.json()["results"][0]["task"]["field_versions"]
    assert stamps["list"] == stamps["position"] == 2
    assert stamps["title"] == 1
    # Re-sending the current position is no change.
    assert patch_task(account, other["id"], position=other["position"])["version"] == 1
    moved_again = patch_task(account, other["id"], after=task["id"], list=target["id"])
    assert moved_again["field_versions"]["list"] == 2
    assert moved_again["position"] > get_task(account, task["id"])["position"]
    assert get_task(account, task["id"])["version"] == 2  # the anchor is not rewritten


def test_list_writes_stamp_their_fields(account: Account) -> None:
    tasklist = make_list(account, name="a")
    response = account.client.patch(f"{LISTS}/{tasklist['id']}", {"archived": True}, format="json")
    assert response.json()["field_versions"] == {**dict.fromkeys(LIST_FIELDS, 1), "archived": 2}
