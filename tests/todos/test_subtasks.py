"""Sub-tasks: one level, inside the parent's list; they travel and disappear with the parent,
completing a parent leaves them as they are, and the default order lists them under it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.todos import positions
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


def _order(account: Account, **params: Any) -> list[str]:
    """Titles in the collection's order, read two per page (the order must page stably)."""
    return [task["title"] for task in all_pages(account, TASKS, limit=2, **params)]


def test_the_default_order_keeps_sub_tasks_under_their_parent(
    account: Account, inbox: dict[str, Any]
) -> None:
    a = make_task(account, inbox, title="A")
    b = make_task(account, inbox, title="B")
    a2 = make_task(account, inbox, title="A.2", parent=a["id"])
    make_task(account, inbox, title="A.1", parent=a["id"], before=a2["id"])
    b1 = make_task(account, inbox, title="B.1", parent=b["id"])
    assert a2["position"] == a["position"]  # positions are per sibling group: both "i"
    expected = ["A", "A.1", "A.2", "B", "B.1"]
    assert _order(account) == expected
    assert _order(account, list=inbox["id"]) == _order(account, ordering="position") == expected
    assert _order(account, ordering="-position") == expected[::-1]

    patch_task(account, a["id"], after=b["id"])  # the parent moves, its sub-tasks with it
    assert _order(account) == ["B", "B.1", "A", "A.1", "A.2"]
    patch_task(account, b1["id"], parent=a["id"])  # to the end of A's sub-tasks
    patch_task(account, a2["id"], parent=None)  # to the end of the top level
    assert _order(account) == ["B", "A", "A.1", "B.1", "A.2"]
    patch_task(account, a["id"], position="0z")  # an explicit key
    assert _order(account) == ["A", "A.1", "B.1", "B", "A.2"]


def test_sub_tasks_stay_under_their_parent_when_families_move(
    account: Account, inbox: dict[str, Any]
) -> None:
    other = make_list(account, name="Other")
    make_task(account, other, title="O")
    a = make_task(account, inbox, title="A")
    make_task(account, inbox, title="A.1", parent=a["id"])
    b = make_task(account, inbox, title="B")
    make_task(account, inbox, title="B.1", parent=b["id"])
    moved = account.client.post(
        BULK, {"action": "move", "ids": [b["id"]], "list": other["id"]}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert _order(account, list=other["id"]) == ["O", "B", "B.1"]
    assert (
        account.client.delete(f"/v1/todos/lists/{inbox['id']}?move_tasks_to={other['id']}").status_code == 204
    )
    assert _order(account, list=other["id"]) == ["O", "B", "B.1", "A", "A.1"]


def test_sub_tasks_follow_a_rebalanced_parent(
    account: Account, inbox: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(positions, "MAX_LENGTH", 6)
    first = make_task(account, inbox, title="first")
    make_task(account, inbox, title="first.1", parent=first["id"])
    last = make_task(account, inbox, title="last")
    make_task(account, inbox, title="last.1", parent=last["id"])
    middle = []
    for n in range(30):
        make_task(account, inbox, title=f"n{n}", after=first["id"])
        middle.insert(0, f"n{n}")
    assert get_task(account, last["id"])["version"] > 1  # the top level was rebalanced
    assert _order(account) == ["first", "first.1", *middle, "last", "last.1"]
