"""Notes meet the CRUD + permissions contract every versioned resource meets."""

from __future__ import annotations

from typing import Any

from tests.conftest import Account
from tests.contract import CrudContract


class TestNotesContract(CrudContract):
    url = "/v1/notes"

    def create_body(self, account: Account) -> dict[str, Any]:
        return {"title": "Groceries", "body": "- milk\n- eggs", "tags": ["home"]}

    def patch_body(self) -> dict[str, Any]:
        return {"title": "Groceries for Sunday", "pinned": True}
