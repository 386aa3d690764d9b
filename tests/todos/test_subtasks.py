"""Sub-tasks: one level, inside the parent's list; they travel and disappear with the parent,
and completing a parent leaves them as they are."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Account, assert_problem

from .conftest import BULK, TASKS, all_pages, get_task, make_list, make_task, patch_task


def _parent_error(response: Any) -> list[str]:
    return assert_problem(response, 400, "validation_error")["errors"]["parent"]


def test_a_sub_task_and_the_filters_that_find_it(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox, title="parent")
    child = make_task(account, inbox, title="child", parent=parent["id"])
    assert child["parent"] == parent["id"]
    assert [t["id"] for t in all_pages(account, TASKS, parent=parent["id"])] == [child["id"]]
    assert [t["id"] for t in all_pages(account, TASKS, has_parent="true")] == [child["id"]]
    assert [t["id"] for t in all_pages(account, TASKS, has_parent="false")] == [parent["id"]]


def test_parent_rules(account: Account, other_account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox, title="parent")
    child = make_task(account, inbox, title="child", parent=parent["id"])
    elsewhere = make_task(account, make_list(account, name="other"))
    foreign = make_task(other_account, make_list(other_account))
    loner = make_task(account, inbox, title="loner")

    def create(parent_id: str) -> Any:
        return account.client.post(
            TASKS, {"title": "x", "list": inbox["id"], "parent": parent_id}, format="json"
        )

    assert _parent_error(create(child["id"])) == ["Sub-tasks cannot have sub-tasks: one level only."]
    assert _parent_error(create(elsewhere["id"])) == ["The parent task is in another list."]
    # Another user's task looks exactly like one that does not exist.
    assert _parent_error(create(foreign["id"])) == ["No such task."]
    assert _parent_error(create(str(uuid.uuid4()))) == ["No such task."]
    assert "parent" in assert_problem(create("nope"), 400, "validation_error")["errors"]

    def patch(task_id: str, parent_id: str) -> Any:
        return account.client.patch(f"{TASKS}/{task_id}", {"parent": parent_id}, format="json")

    assert _parent_error(patch(loner["id"], loner["id"])) == ["A task cannot be its own parent."]
    # A cycle would need two levels: refused either way round.
    assert _parent_error(patch(parent["id"], child["id"])) == [
        "Sub-tasks cannot have sub-tasks: one level only."
    ]
    assert _parent_error(patch(parent["id"], loner["id"])) == [
        "A task with sub-tasks cannot become a sub-task."
    ]
    assert get_task(account, parent["id"])["version"] == 1


def test_completing_a_parent_leaves_its_sub_tasks_open(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    assert patch_task(account, parent["id"], done=True)["done"] is True
    assert get_task(account, child["id"])["done"] is False
    assert get_task(account, child["id"])["version"] == 1
    # Completing a sub-task does not complete its parent either.
    patch_task(account, parent["id"], done=False)
    patch_task(account, child["id"], done=True)
    assert get_task(account, parent["id"])["done"] is False


def test_deleting_a_parent_deletes_its_sub_tasks(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox)
    children = [make_task(account, inbox, parent=parent["id"]) for _ in range(2)]
    keep = make_task(account, inbox)
    assert account.client.delete(f"{TASKS}/{parent['id']}").status_code == 204
    for child in children:
        assert_problem(account.client.get(f"{TASKS}/{child['id']}"), 404, "not_found")
    assert [t["id"] for t in all_pages(account, TASKS)] == [keep["id"]]


def test_moving_a_parent_takes_its_sub_tasks_along(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    moved = patch_task(account, parent["id"], list=target["id"])
    assert moved["list"] == target["id"]
    after = get_task(account, child["id"])
    assert after["list"] == target["id"]
    assert after["parent"] == parent["id"]
    assert after["position"] == child["position"]
    assert after["version"] == 2
    assert after["field_versions"]["list"] == 2


def test_a_sub_task_moves_only_with_an_explicit_parent(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    refused = account.client.patch(f"{TASKS}/{child['id']}", {"list": target["id"]}, format="json")
    assert "list" in assert_problem(refused, 400, "validation_error")["errors"]
    refused = account.client.patch(
        f"{TASKS}/{child['id']}", {"list": target["id"], "parent": parent["id"]}, format="json"
    )
    assert _parent_error(refused) == ["The parent task is in another list."]
    moved = patch_task(account, child["id"], list=target["id"], parent=None)
    assert moved["parent"] is None
    assert moved["list"] == target["id"]
    assert moved["field_versions"]["parent"] == moved["field_versions"]["list"] == 2


def test_promoting_a_sub_task_appends_it_to_the_top_level(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox, title="parent")
    child = make_task(account, inbox, title="child", parent=parent["id"])
    make_task(account, inbox, title="last")
    promoted = patch_task(account, child["id"], parent=None)
    titles = [t["title"] for t in all_pages(account, TASKS, has_parent="false", ordering="position")]
    assert titles == ["parent", "last", "child"]
    assert promoted["field_versions"]["position"] == 2


def test_bulk_move_of_a_lone_sub_task_detaches_it(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    response = account.client.post(
        BULK, {"action": "move", "ids": [child["id"]], "list": target["id"]}, format="json"
    )
    assert response.status_code == 200, response.content
    moved = response.json()["results"][0]["task"]
    assert moved["list"] == target["id"]
    assert moved["parent"] is None
    assert get_task(account, parent["id"])["list"] == inbox["id"]
