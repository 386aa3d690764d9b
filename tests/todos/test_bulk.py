"""POST /v1/todos/bulk: complete, reopen, move or delete many tasks, all or nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.todos.services import BULK_MAX_IDS
from tests.conftest import Account, assert_problem

from .conftest import BULK, TASKS, all_pages, get_task, make_list, make_task


def _bulk(account: Account, **body: Any) -> Any:
    return account.client.post(BULK, body, format="json")


def test_complete_and_reopen_many(account: Account, inbox: dict[str, Any]) -> None:
    tasks = [make_task(account, inbox, title=f"t{n}") for n in range(3)]
    already = make_task(account, inbox, done=True)
    ids = [t["id"] for t in tasks] + [already["id"]]
    response = _bulk(account, action="complete", ids=ids)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == "complete"
    assert [r["id"] for r in body["results"]] == ids  # in request order
    assert [r["status"] for r in body["results"]] == ["updated"] * 3 + ["unchanged"]
    assert all(r["task"]["done"] for r in body["results"])
    assert all(r["task"]["version"] == 2 for r in body["results"][:3])
    assert body["results"][3]["task"]["version"] == 1
    for task in tasks:
        fresh = get_task(account, task["id"])
        assert fresh["done"] is True
        assert fresh["completed_at"] is not None
        assert fresh["field_versions"]["done"] == 2

    reopened = _bulk(account, action="reopen", ids=[tasks[0]["id"]]).json()["results"][0]
    assert reopened["status"] == "updated"
    assert reopened["task"]["done"] is False
    assert reopened["task"]["completed_at"] is None


@pytest.mark.parametrize("bad", ["random", "foreign", "deleted"])
def test_one_bad_id_fails_everything(
    account: Account, other_account: Account, inbox: dict[str, Any], bad: str
) -> None:
    good = [make_task(account, inbox) for _ in range(3)]
    if bad == "random":
        bad_id = str(uuid.uuid4())
    elif bad == "foreign":
        bad_id = make_task(other_account, make_list(other_account))["id"]
    else:
        bad_id = make_task(account, inbox)["id"]
        assert account.client.delete(f"{TASKS}/{bad_id}").status_code == 204
    ids = [good[0]["id"], bad_id, good[1]["id"], good[2]["id"]]
    for action in ("complete", "delete"):
        problem = assert_problem(_bulk(account, action=action, ids=ids), 400, "validation_error")
        assert problem["errors"] == {"ids.1": ["No such task."]}
    target = make_list(account, name="target")
    problem = assert_problem(
        _bulk(account, action="move", ids=ids, list=target["id"]), 400, "validation_error"
    )
    assert problem["errors"] == {"ids.1": ["No such task."]}
    for task in good:  # nothing was applied
        fresh = get_task(account, task["id"])
        assert fresh["version"] == 1
        assert fresh["done"] is False
        assert fresh["list"] == inbox["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "complete", "ids": []}, "ids"),
        ({"action": "complete", "ids": ["not-a-uuid"]}, "ids.0"),
        ({"action": "complete", "ids": "x"}, "ids"),
        ({"action": "complete"}, "ids"),
        ({"action": "explode", "ids": ["{a}"]}, "action"),
        ({"action": "complete", "ids": ["{a}", "{a}"]}, "ids"),
        ({"action": "move", "ids": ["{a}"]}, "list"),
        ({"action": "move", "ids": ["{a}"], "list": "{random}"}, "list"),
        ({"action": "move", "ids": ["{a}"], "list": "{foreign_list}"}, "list"),
        ({"action": "move", "ids": ["{a}"], "list": "nope"}, "list"),
    ],
)
def test_bad_requests_are_400(
    account: Account, other_account: Account, inbox: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    a = make_task(account, inbox)
    values = {"a": a["id"], "random": str(uuid.uuid4()), "foreign_list": make_list(other_account)["id"]}

    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value.format(**values) if isinstance(value, str) else value

    problem = assert_problem(_bulk(account, **{k: fill(v) for k, v in body.items()}), 400, "validation_error")
    assert field in problem["errors"], problem
    assert get_task(account, a["id"])["version"] == 1


def test_the_number_of_ids_is_bounded(account: Account) -> None:
    ids = [str(uuid.uuid4()) for _ in range(BULK_MAX_IDS + 1)]
    problem = assert_problem(_bulk(account, action="delete", ids=ids), 400, "validation_error")
    assert "ids" in problem["errors"]


def test_move_appends_in_the_given_order_with_sub_tasks(account: Account, inbox: dict[str, Any]) -> None:
    target = make_list(account, name="target")
    make_task(account, target, title="already there")
    a = make_task(account, inbox, title="a")
    b = make_task(account, inbox, title="b")
    a_child = make_task(account, inbox, title="a-child", parent=a["id"])
    response = _bulk(account, action="move", ids=[b["id"], a["id"]], list=target["id"])
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["updated", "updated"]
    titles = [t["title"] for t in all_pages(account, TASKS, list=target["id"], has_parent="false")]
    assert titles == ["already there", "b", "a"]
    child = get_task(account, a_child["id"])
    assert child["list"] == target["id"]
    assert child["parent"] == a["id"]
    # Moving to the list a task is already in changes nothing.
    again = _bulk(account, action="move", ids=[a["id"]], list=target["id"]).json()["results"][0]
    assert again["status"] == "unchanged"
    assert again["task"]["version"] == 2


def test_delete_many_with_sub_tasks(account: Account, inbox: dict[str, Any]) -> None:
    parent = make_task(account, inbox)
    child = make_task(account, inbox, parent=parent["id"])
    other = make_task(account, inbox)
    keep = make_task(account, inbox)
    response = _bulk(account, action="delete", ids=[parent["id"], other["id"]])
    assert response.status_code == 200, response.content
    assert response.json()["results"] == [
        {"id": parent["id"], "status": "deleted", "task": None},
        {"id": other["id"], "status": "deleted", "task": None},
    ]
    assert [t["id"] for t in all_pages(account, TASKS)] == [keep["id"]]
    assert_problem(account.client.get(f"{TASKS}/{child['id']}"), 404)


def test_bulk_query_count_does_not_grow_with_the_number_of_ids(
    account: Account, inbox: dict[str, Any]
) -> None:
    tasks = [make_task(account, inbox, due="2025-01-31", recurrence={"freq": "monthly"}) for _ in range(12)]
    target = make_list(account, name="target")
    for action, extra in (("complete", {}), ("move", {"list": target["id"]}), ("delete", {})):
        counts = []
        for chunk in (tasks[:2], tasks[2:12]):
            with CaptureQueriesContext(connection) as queries:
                response = _bulk(account, action=action, ids=[t["id"] for t in chunk], **extra)
            assert response.status_code == 200, response.content
            counts.append(len(queries))
        assert counts[0] == counts[1], (action, counts)


def test_anonymous_is_401(api: Any) -> None:
    assert_problem(api.post(BULK, {"action": "delete", "ids": [str(uuid.uuid4())]}, format="json"), 401)


def test_an_item_that_cannot_complete_fails_the_batch(account: Account, inbox: dict[str, Any]) -> None:
    fine = make_task(account, inbox)
    stuck = make_task(account, inbox, due="9000-12-31", recurrence={"freq": "daily"})
    problem = assert_problem(
        _bulk(account, action="complete", ids=[fine["id"], stuck["id"]]), 400, "validation_error"
    )
    assert problem["errors"] == {"ids.1": ["The next occurrence is out of range."]}
    assert get_task(account, fine["id"])["done"] is False
    assert account.client.get(f"{TASKS}/{stuck['id']}/completions").json()["results"] == []
