"""Task lists and tasks meet the shared CRUD + permissions contract (tests/contract.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Account
from tests.contract import CrudContract

from .conftest import LISTS, TASKS, make_list


class TestTaskListContract(CrudContract):
    url = LISTS

    def create_body(self, account: Account) -> dict[str, Any]:
        return {"name": "Groceries", "color": "#ff8800"}

    def patch_body(self) -> dict[str, Any]:
        return {"name": "Errands", "color": "#00aa11"}


class TestTaskContract(CrudContract):
    url = TASKS

    def create_body(self, account: Account) -> dict[str, Any]:
        return {
            "title": "Buy milk",
            "list": make_list(account)["id"],
            "due": "2030-05-01",
            "tags": ["shopping"],
            "priority": 1,
        }

    def patch_body(self) -> dict[str, Any]:
        return {"title": "Buy oat milk", "priority": 3, "tags": ["dairy", "shopping"]}
