"""Task lists: replace, delete with their tasks, or delete after moving the tasks elsewhere."""

from __future__ import annotations

import uuid
from typing import Any

from apps.todos.models import Task
from tests.conftest import Account, assert_problem

from .conftest import LISTS, TASKS, all_pages, get_task, make_list, make_task


def test_put_replaces_a_list(account: Account) -> None:
    tasklist = make_list(account, name="Groceries", color="#FF8800", archived=True)
    assert tasklist["color"] == "#ff8800"
    replaced = account.client.put(f"{LISTS}/{tasklist['id']}", {"name": "Errands"}, format="json")
    assert replaced.status_code == 200, replaced.content
    body = replaced.json()
    assert (body["name"], body["color"], body["archived"]) == ("Errands", "", False)
    assert body["position"] == tasklist["position"]  # PUT without a placement keeps the order
    assert body["version"] == 2
    assert body["field_versions"] == {"name": 2, "color": 2, "archived": 2, "position": 1}
    missing = account.client.put(f"{LISTS}/{tasklist['id']}", {"color": "#000000"}, format="json")
    assert "name" in assert_problem(missing, 400, "validation_error")["errors"]


def test_bad_list_bodies_are_400(account: Account) -> None:
    for body in (
        {"name": ""},
        {"name": "x" * 201},
        {"name": "x", "color": "red"},
        {"name": "x", "color": "#12345"},
        {"name": "x", "archived": "perhaps"},
        {"name": "x", "id": "123"},
        [],
    ):
        assert_problem(account.client.post(LISTS, body, format="json"), 400, "validation_error")


def test_deleting_a_list_deletes_its_tasks(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    other_list = make_list(account, name="other")
    survivor = make_task(account, other_list)
    assert account.client.delete(f"{LISTS}/{inbox['id']}").status_code == 204
    assert_problem(account.client.get(f"{LISTS}/{inbox['id']}"), 404, "not_found")
    for task in (parent, child):
        assert_problem(account.client.get(f"{TASKS}/{task['id']}"), 404, "not_found")
    assert [t["id"] for t in all_pages(account, TASKS)] == [survivor["id"]]
    # Tombstones, each with a new version, for the sync feed.
    for row in Task.objects.filter(id__in=[parent["id"], child["id"]]):
        assert row.deleted_at is not None
        assert row.version == 2
    # The deleted list takes no new tasks.
    response = account.client.post(TASKS, {"title": "late", "list": inbox["id"]}, format="json")
    assert assert_problem(response, 400, "validation_error")["errors"] == {"list": ["No such task list."]}


def test_deleting_a_list_can_move_its_tasks_first(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    make_task(account, target, title="existing")
    first = make_task(account, inbox, title="first")
    child = make_task(account, inbox, title="child", parent=first["id"])
    make_task(account, inbox, title="second")
    response = account.client.delete(f"{LISTS}/{inbox['id']}?move_tasks_to={target['id']}")
    assert response.status_code == 204, response.content
    titles = [t["title"] for t in all_pages(account, TASKS, list=target["id"], has_parent="false")]
    assert titles == ["existing", "first", "second"]
    moved_child = get_task(account, child["id"])
    assert moved_child["list"] == target["id"]
    assert moved_child["parent"] == first["id"]
    assert moved_child["field_versions"]["list"] == 2


def test_bad_move_targets_change_nothing(
    account: Account, other_account: Account, inbox: dict[str, Any]
) -> None:
    task = make_task(account, inbox)
    foreign = make_list(other_account)
    for target in (inbox["id"], foreign["id"], str(uuid.uuid4()), "nope"):
        response = account.client.delete(f"{LISTS}/{inbox['id']}?move_tasks_to={target}")
        assert "move_tasks_to" in assert_problem(response, 400, "validation_error")["errors"]
    assert get_task(account, task["id"])["version"] == 1
    assert account.client.get(f"{LISTS}/{inbox['id']}").status_code == 200


def test_stale_if_match_on_list_delete_keeps_its_tasks(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox)
    account.client.patch(f"{LISTS}/{inbox['id']}", {"name": "renamed"}, format="json")
    assert_problem(account.client.delete(f"{LISTS}/{inbox['id']}", HTTP_IF_MATCH='"1"'), 412)
    assert get_task(account, task["id"])["version"] == 1


def test_a_task_cannot_go_into_another_users_list(
    account: Account, other_account: Account, inbox: dict[str, Any]
) -> None:
    foreign = make_list(other_account)
    response = account.client.post(TASKS, {"title": "x", "list": foreign["id"]}, format="json")
    assert assert_problem(response, 400, "validation_error")["errors"] == {"list": ["No such task list."]}
    task = make_task(account, inbox)
    response = account.client.patch(f"{TASKS}/{task['id']}", {"list": foreign["id"]}, format="json")
    assert assert_problem(response, 400, "validation_error")["errors"] == {"list": ["No such task list."]}
    assert all_pages(other_account, TASKS) == []
