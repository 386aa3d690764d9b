"""Helpers for the todos tests: small client-side factories over the public API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Account

LISTS = "/v1/todos/lists"
TASKS = "/v1/todos"
BULK = "/v1/todos/bulk"


def make_list(account: Account, **fields: Any) -> dict[str, Any]:
    response = account.client.post(LISTS, {"name": "Inbox", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def make_task(account: Account, tasklist: dict[str, Any] | str, **fields: Any) -> dict[str, Any]:
    list_id = tasklist if isinstance(tasklist, str) else tasklist["id"]
    response = account.client.post(TASKS, {"title": "Task", "list": list_id, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def get_task(account: Account, task_id: str) -> dict[str, Any]:
    response = account.client.get(f"{TASKS}/{task_id}")
    assert response.status_code == 200, response.content
    return response.json()


def patch_task(account: Account, task_id: str, **fields: Any) -> dict[str, Any]:
    response = account.client.patch(f"{TASKS}/{task_id}", fields, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def all_pages(account: Account, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a collection, following `next` links."""
    items: list[dict[str, Any]] = []
    response = account.client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["results"]
        if not body["next"]:
            return items
        response = account.client.get(body["next"])


@pytest.fixture
def inbox(account: Account) -> dict[str, Any]:
    return make_list(account)
