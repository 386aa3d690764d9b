"""Filters, orderings and keyset paging of the task and list collections."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.todos.models import Task
from tests.conftest import Account, assert_problem

from .conftest import LISTS, TASKS, all_pages, make_list, make_task, patch_task


def _titles(account: Account, **params: Any) -> list[str]:
    return sorted(t["title"] for t in all_pages(account, TASKS, **params))


def test_list_done_tag_and_text(account: Account, inbox: dict[str, Any]) -> None:
    other = make_list(account, name="other")
    make_task(account, inbox, title="Buy milk", tags=["Shopping", " urgent  stuff "])
    make_task(account, inbox, title="Call mum", notes="about the MILK delivery", done=True)
    make_task(account, other, title="Write report", tags=["work"])
    assert _titles(account, list=other["id"]) == ["Write report"]
    assert _titles(account, done="true") == ["Call mum"]
    assert _titles(account, done="false") == ["Buy milk", "Write report"]
    assert _titles(account, tag="shopping") == ["Buy milk"]
    assert _titles(account, tag="URGENT stuff") == ["Buy milk"]
    assert _titles(account, tag="shop") == []
    assert _titles(account, q="milk") == ["Buy milk", "Call mum"]
    assert _titles(account, q="milk", done="false") == ["Buy milk"]


def test_tags_are_normalised(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, tags=["  Home ", "home", "Deep   Work", "a"])
    assert task["tags"] == ["a", "deep work", "home"]


def test_due_before_and_after(account: Account, inbox: dict[str, Any]) -> None:
    make_task(account, inbox, title="d1", due="2025-03-01")
    make_task(account, inbox, title="d2", due="2025-03-02")
    # 23:30 on Mar 1 at -05:00 is already Mar 2 in UTC, but its own day is Mar 1.
    make_task(account, inbox, title="t1", due="2025-03-01T23:30:00-05:00")
    make_task(account, inbox, title="none")
    assert _titles(account, due_before="2025-03-01") == ["d1", "t1"]
    assert _titles(account, due_after="2025-03-02") == ["d2"]
    assert _titles(account, due_after="2025-03-01", due_before="2025-03-01") == ["d1", "t1"]
    # Instants: an all-day due counts as 00:00 UTC of its day.
    assert _titles(account, due_after="2025-03-02T00:00:00Z") == ["d2", "t1"]
    assert _titles(account, due_before="2025-03-02T04:00:00+00:00") == ["d1", "d2"]
    assert _titles(account, due_before="2025-03-02T04:30:00Z") == ["d1", "d2", "t1"]


def test_overdue(account: Account, inbox: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    today = now.date()
    make_task(account, inbox, title="yesterday", due=(today - timedelta(days=1)).isoformat())
    make_task(account, inbox, title="today", due=today.isoformat())
    make_task(account, inbox, title="an hour ago", due=(now - timedelta(hours=1)).isoformat())
    make_task(account, inbox, title="in an hour", due=(now + timedelta(hours=1)).isoformat())
    make_task(account, inbox, title="done late", due="2001-01-01", done=True)
    make_task(account, inbox, title="no due")
    assert _titles(account, overdue="true") == ["an hour ago", "yesterday"]
    assert _titles(account, overdue="false") == ["done late", "in an hour", "no due", "today"]
    # The client says what day it is where it is.
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert _titles(account, overdue="true", today=tomorrow) == ["an hour ago", "today", "yesterday"]


def test_updated_since(account: Account, inbox: dict[str, Any]) -> None:
    old = make_task(account, inbox, title="old")
    Task.objects.filter(id=old["id"]).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    make_task(account, inbox, title="new")
    assert _titles(account, updated_since="2024-01-01T00:00:00Z") == ["new"]
    patch_task(account, old["id"], title="old, edited")
    assert _titles(account, updated_since="2024-01-01T00:00:00Z") == ["new", "old, edited"]


@pytest.mark.parametrize(
    "params",
    [
        {"done": "maybe"},
        {"overdue": "yes please"},
        {"has_parent": "2"},
        {"list": "not-a-uuid"},
        {"parent": "123"},
        {"due_before": "tomorrow"},
        {"due_after": "2025-02-30"},
        {"due_after": "2025-03-01T10:00:00"},
        {"today": "today"},
        {"updated_since": "yesterday"},
        {"ordering": "title"},
        {"q": "x" * 201},
    ],
)
def test_bad_filter_values_are_400(account: Account, params: dict[str, str]) -> None:
    problem = assert_problem(account.client.get(TASKS, params), 400, "validation_error")
    assert set(problem["errors"]) == set(params)


def _seed_for_ordering(account: Account, inbox: dict[str, Any]) -> None:
    specs = [
        ("a", 2, "2025-03-02"),
        ("b", 0, None),
        ("c", 3, "2025-03-01T08:00:00+00:00"),
        ("d", 2, "2025-03-01"),
        ("e", 1, None),
        ("f", 2, "2025-03-03T10:00:00+02:00"),
        ("g", 0, "2025-03-02"),
    ]
    for title, priority, due in specs:
        make_task(account, inbox, title=title, priority=priority, due=due)


@pytest.mark.parametrize(
    ("ordering", "field"),
    [
        ("position", "position"),
        ("-position", "position"),
        ("due", "due_sort"),
        ("-due", "due_sort"),
        ("priority", "priority"),
        ("-priority", "priority"),
        ("created", "created_at"),
        ("-created", "created_at"),
        ("updated", "updated_at"),
        ("-updated", "updated_at"),
    ],
)
def test_every_ordering_pages_through_everything_once(
    account: Account, inbox: dict[str, Any], ordering: str, field: str
) -> None:
    _seed_for_ordering(account, inbox)
    patch_task(account, all_pages(account, TASKS)[0]["id"], notes="touched")  # updated_at differs
    rows = Task.objects.filter(owner_id=account.id)
    expected = sorted(rows, key=lambda t: (getattr(t, field), t.id), reverse=ordering.startswith("-"))
    for limit in (1, 2, 3, 50):
        got = [t["id"] for t in all_pages(account, TASKS, ordering=ordering, limit=limit)]
        assert got == [str(t.id) for t in expected], (ordering, limit)


def test_due_ordering_puts_tasks_without_a_due_last(account: Account, inbox: dict[str, Any]) -> None:
    _seed_for_ordering(account, inbox)
    titles = [t["title"] for t in all_pages(account, TASKS, ordering="due", limit=2)]
    # d: Mar 1 (00:00 UTC); c: Mar 1 08:00Z; a, g: Mar 2; f: Mar 3 08:00Z; then no due.
    assert titles[:2] == ["d", "c"]
    assert set(titles[2:4]) == {"a", "g"}
    assert titles[4] == "f"
    assert set(titles[5:]) == {"b", "e"}
    descending = [t["title"] for t in all_pages(account, TASKS, ordering="-due", limit=2)]
    assert set(descending[:2]) == {"b", "e"}
    assert descending[2] == "f"
    assert set(descending[3:5]) == {"a", "g"}
    assert descending[5:] == ["c", "d"]


def test_ties_on_the_ordering_field_page_correctly(account: Account, inbox: dict[str, Any]) -> None:
    for n in range(9):
        make_task(account, inbox, title=str(n), priority=1)
    ids = [t["id"] for t in all_pages(account, TASKS, ordering="priority", limit=2)]
    assert len(ids) == len(set(ids)) == 9
    assert ids == sorted(ids)


def test_limit_is_clamped_and_defaulted(account: Account, inbox: dict[str, Any]) -> None:
    for _ in range(3):
        make_task(account, inbox)
    body = account.client.get(TASKS, {"limit": 100000}).json()
    assert len(body["results"]) == 3
    assert body["next"] is None
    assert len(account.client.get(TASKS, {"limit": "abc"}).json()["results"]) == 3


def test_bad_cursors_are_refused(account: Account, inbox: dict[str, Any]) -> None:
    for _ in range(3):
        make_task(account, inbox)
    next_url = account.client.get(TASKS, {"limit": 1, "ordering": "due"}).json()["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    # The same cursor with another ordering, garbage, and a forged value.
    assert_problem(account.client.get(TASKS, {"cursor": cursor, "ordering": "priority"}), 404)
    assert_problem(account.client.get(TASKS, {"cursor": "!!!"}), 404)
    forged = base64.urlsafe_b64encode(
        json.dumps({"o": "position,id", "k": ["i", "not-a-uuid"]}).encode()
    ).decode()
    assert_problem(account.client.get(TASKS, {"cursor": forged}), 404)
    forged = base64.urlsafe_b64encode(json.dumps({"o": "due_sort,id", "k": [{}, 1]}).encode()).decode()
    assert_problem(account.client.get(TASKS, {"cursor": forged, "ordering": "due"}), 404)


# --- task lists ------------------------------------------------------------------------------


def test_archived_lists_are_hidden_unless_asked_for(account: Account) -> None:
    active = make_list(account, name="active")
    archived = make_list(account, name="archived", archived=True)
    names = lambda **params: [item["name"] for item in all_pages(account, LISTS, **params)]  # noqa: E731
    assert names() == ["active"]
    assert names(archived="false") == ["active"]
    assert names(archived="true") == ["archived"]
    assert names(archived="all") == ["active", "archived"]
    assert_problem(account.client.get(LISTS, {"archived": "maybe"}), 400, "validation_error")
    # Archived lists are still readable and can be brought back.
    assert account.client.get(f"{LISTS}/{archived['id']}").status_code == 200
    account.client.patch(f"{LISTS}/{archived['id']}", {"archived": False}, format="json")
    assert names() == ["active", "archived"]
    assert active["archived"] is False


def test_list_orderings(account: Account) -> None:
    for name in ("b", "c", "a"):
        make_list(account, name=name)
    assert [i["name"] for i in all_pages(account, LISTS, ordering="name", limit=1)] == ["a", "b", "c"]
    assert [i["name"] for i in all_pages(account, LISTS, ordering="-name", limit=2)] == ["c", "b", "a"]
    assert [i["name"] for i in all_pages(account, LISTS, ordering="-created", limit=2)] == ["a", "c", "b"]
    assert [i["name"] for i in all_pages(account, LISTS, limit=2)] == ["b", "c", "a"]  # position
    assert_problem(account.client.get(LISTS, {"ordering": "color"}), 400, "validation_error")
