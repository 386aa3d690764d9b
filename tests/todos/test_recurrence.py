"""Recurring tasks: completing one records the completion and moves the due date on, counted
from the previous due date, with month ends clamped."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from apps.todos.recurrence import next_date
from tests.conftest import Account, assert_problem

from .conftest import BULK, TASKS, get_task, make_task, patch_task


@pytest.mark.parametrize(
    ("start", "freq", "interval", "expected"),
    [
        (date(2025, 1, 30), "daily", 1, date(2025, 1, 31)),
        (date(2025, 12, 31), "daily", 1, date(2026, 1, 1)),
        (date(2025, 1, 1), "daily", 10, date(2025, 1, 11)),
        (date(2025, 1, 1), "weekly", 1, date(2025, 1, 8)),
        (date(2025, 12, 25), "weekly", 2, date(2026, 1, 8)),
        (date(2025, 1, 31), "monthly", 1, date(2025, 2, 28)),
        (date(2024, 1, 31), "monthly", 1, date(2024, 2, 29)),
        (date(2025, 3, 31), "monthly", 1, date(2025, 4, 30)),
        (date(2025, 11, 30), "monthly", 3, date(2026, 2, 28)),
        (date(2025, 1, 15), "monthly", 12, date(2026, 1, 15)),
        (date(2024, 2, 29), "yearly", 1, date(2025, 2, 28)),
        (date(2024, 2, 29), "yearly", 4, date(2028, 2, 29)),
        (date(2025, 6, 1), "yearly", 2, date(2027, 6, 1)),
    ],
)
def test_next_date(start: date, freq: str, interval: int, expected: date) -> None:
    assert next_date(start, freq=freq, interval=interval) == expected


def _complete(account: Account, task_id: str) -> dict[str, Any]:
    return patch_task(account, task_id, done=True)


def test_completing_a_daily_task_moves_it_on_and_records_the_completion(
    account: Account, inbox: dict[str, Any]
) -> None:
    task = make_task(account, inbox, due="2025-01-30", recurrence={"freq": "daily"})
    assert task["recurrence"] == {"freq": "daily", "interval": 1}
    assert task["completion_count"] == 0
    done = _complete(account, task["id"])
    assert done["done"] is False  # still open: the next occurrence
    assert done["completed_at"] is None
    assert done["due"] == "2025-01-31"
    assert done["completion_count"] == 1
    assert done["last_completed_at"] is not None
    assert done["version"] == 2
    assert done["field_versions"]["due"] == 2
    assert done["field_versions"]["done"] == 2  # a second device's offline completion conflicts
    history = account.client.get(f"{TASKS}/{task['id']}/completions").json()["results"]
    assert [(h["due"]) for h in history] == ["2025-01-30"]
    assert history[0]["completed_at"] == done["last_completed_at"]


def test_monthly_clamps_month_ends_and_counts_from_the_previous_due(
    account: Account, inbox: dict[str, Any]
) -> None:
    task = make_task(account, inbox, due="2025-01-31", recurrence={"freq": "monthly", "interval": 1})
    dues = [_complete(account, task["id"])["due"] for _ in range(3)]
    assert dues == ["2025-02-28", "2025-03-28", "2025-04-28"]
    history = account.client.get(f"{TASKS}/{task['id']}/completions").json()["results"]
    assert [h["due"] for h in history] == ["2025-03-28", "2025-02-28", "2025-01-31"]  # newest first
    assert get_task(account, task["id"])["completion_count"] == 3


def test_yearly_from_february_29(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="2024-02-29", recurrence={"freq": "yearly"})
    assert _complete(account, task["id"])["due"] == "2025-02-28"


def test_weekly_with_an_interval(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="2025-12-25", recurrence={"freq": "weekly", "interval": 2})
    assert _complete(account, task["id"])["due"] == "2026-01-08"
    assert _complete(account, task["id"])["due"] == "2026-01-22"


def test_a_due_datetime_keeps_its_wall_clock_time_and_offset(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="2025-01-31T09:30:00+01:00", recurrence={"freq": "monthly"})
    assert task["due"] == "2025-01-31T09:30:00+01:00"
    assert _complete(account, task["id"])["due"] == "2025-02-28T09:30:00+01:00"
    late = make_task(
        account, inbox, due="2025-03-01T23:30:00-05:00", recurrence={"freq": "daily", "interval": 3}
    )
    assert _complete(account, late["id"])["due"] == "2025-03-04T23:30:00-05:00"


def test_late_completion_still_counts_from_the_due_date(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="2001-01-01", recurrence={"freq": "daily"})
    assert _complete(account, task["id"])["due"] == "2001-01-02"  # once, not up to today


def test_a_recurring_task_needs_a_due_date(account: Account, inbox: dict[str, Any]) -> None:
    response = account.client.post(
        TASKS, {"title": "x", "list": inbox["id"], "recurrence": {"freq": "daily"}}, format="json"
    )
    assert "recurrence" in assert_problem(response, 400, "validation_error")["errors"]
    task = make_task(account, inbox, due="2025-01-01", recurrence={"freq": "daily"})
    response = account.client.patch(f"{TASKS}/{task['id']}", {"due": None}, format="json")
    assert "due" in assert_problem(response, 400, "validation_error")["errors"]
    # Ending the series is allowed, after which the due can go.
    patch_task(account, task["id"], recurrence=None)
    assert patch_task(account, task["id"], due=None)["due"] is None


def test_the_next_occurrence_out_of_range_is_400(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="9000-06-01", recurrence={"freq": "yearly"})
    response = account.client.patch(f"{TASKS}/{task['id']}", {"done": True}, format="json")
    assert_problem(response, 400, "validation_error")
    assert get_task(account, task["id"])["version"] == 1


def test_non_recurring_completion_and_reopen(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, due="2025-05-01")
    done = _complete(account, task["id"])
    assert done["done"] is True
    assert done["completed_at"] is not None
    assert done["due"] == "2025-05-01"
    assert done["completion_count"] == 1
    again = account.client.patch(f"{TASKS}/{task['id']}", {"done": True}, format="json").json()
    assert again["version"] == done["version"]  # already done: nothing changes
    reopened = patch_task(account, task["id"], done=False)
    assert reopened["done"] is False
    assert reopened["completed_at"] is None
    assert reopened["completion_count"] == 1  # the history stays
    assert len(account.client.get(f"{TASKS}/{task['id']}/completions").json()["results"]) == 1


def test_completed_at_is_set_by_the_server_only(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox, completed_at="2001-01-01T00:00:00Z")
    assert task["completed_at"] is None
    created_done = make_task(account, inbox, done=True, completed_at="2001-01-01T00:00:00Z")
    assert created_done["completed_at"] is not None
    assert not created_done["completed_at"].startswith("2001")


def test_bulk_complete_advances_recurring_tasks(account: Account, inbox: dict[str, Any]) -> None:
    recurring = make_task(account, inbox, due="2025-01-31", recurrence={"freq": "monthly"})
    plain = make_task(account, inbox)
    response = account.client.post(
        BULK, {"action": "complete", "ids": [recurring["id"], plain["id"]]}, format="json"
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["task"]["due"] == "2025-02-28"
    assert results[0]["task"]["done"] is False
    assert results[1]["task"]["done"] is True
    assert get_task(account, recurring["id"])["completion_count"] == 1


def test_completions_of_another_users_task_are_404(
    account: Account, other_account: Account, inbox: dict[str, Any]
) -> None:
    task = make_task(account, inbox)
    assert_problem(other_account.client.get(f"{TASKS}/{task['id']}/completions"), 404, "not_found")
