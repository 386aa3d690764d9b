"""Queries per request stay flat as pages grow (no N+1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import Account

from .conftest import LISTS, TASKS, make_list, make_task


def _count(account: Account, url: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = account.client.get(url, params)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.fixture
def busy(account: Account, inbox: dict[str, Any]) -> dict[str, Any]:
    """Tasks with everything a serializer could trip over: parents, tags, recurrence, dues."""
    for n in range(8):
        parent = make_task(
            account,
            inbox,
            title=f"p{n}",
            tags=["a", f"t{n}"],
            due="2025-01-31T09:00:00+01:00",
            recurrence={"freq": "monthly"},
        )
        make_task(account, inbox, title=f"c{n}", parent=parent["id"], due="2025-02-01", done=True)
        make_list(account, name=f"list {n}")
    return inbox


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ordering": "-due"},
        {"ordering": "priority", "done": "false", "tag": "a"},
        {"overdue": "true", "q": "p"},
        {"has_parent": "true", "due_after": "2025-01-01"},
    ],
)
def test_task_pages_cost_the_same_whatever_their_size(
    account: Account, busy: dict[str, Any], params: dict[str, str], django_assert_max_num_queries: Any
) -> None:
    account.client.get(TASKS)  # warm the session cache
    small = _count(account, TASKS, limit=1, **params)
    large = _count(account, TASKS, limit=200, **params)
    assert small == large
    with django_assert_max_num_queries(2):
        # A request that failed early (a 4xx) would use fewer queries and pass: check it did not.
        assert account.client.get(TASKS, {"limit": 200, **params}).status_code == 200


def test_following_pages_cost_the_same(account: Account, busy: dict[str, Any]) -> None:
    account.client.get(TASKS)
    first = account.client.get(TASKS, {"limit": 3, "ordering": "due"}).json()
    with CaptureQueriesContext(connection) as queries:
        assert account.client.get(first["next"]).status_code == 200
    assert len(queries) <= 2


def test_lists_and_details(
    account: Account, busy: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    account.client.get(LISTS)
    assert _count(account, LISTS, limit=1) == _count(account, LISTS, limit=200)
    task_id = account.client.get(TASKS).json()["results"][0]["id"]
    with django_assert_max_num_queries(2):
        assert account.client.get(f"{TASKS}/{task_id}").status_code == 200
    with django_assert_max_num_queries(3):
        assert account.client.get(f"{TASKS}/{task_id}/completions").status_code == 200


def test_writes_stay_small(
    account: Account, inbox: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    account.client.get(TASKS)
    # Each write also takes the user's feed lock and records its change (3 queries + savepoint).
    with django_assert_max_num_queries(14):
        task = make_task(account, inbox, due="2025-01-31", recurrence={"freq": "monthly"})
    with django_assert_max_num_queries(14):
        assert account.client.patch(f"{TASKS}/{task['id']}", {"done": True}, format="json").status_code == 200
    with django_assert_max_num_queries(12):
        assert account.client.delete(f"{TASKS}/{task['id']}").status_code == 204
