"""A tiny offline-first client, as a device would sync: a local store, pending operations,
push then pull."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Account

_ops = itertools.count(1)


@dataclass
class Device:
    account: Account
    name: str
    cursor: str = ""
    store: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def pull(self) -> None:
        while True:
            page = self.account.client.get("/v1/sync/changes", {"cursor": self.cursor, "limit": 3})
            assert page.status_code == 200, page.content
            body = page.json()
            for change in body["changes"]:
                key = (change["type"], change["id"])
                if change["op"] == "delete":
                    self.store.pop(key, None)
                else:
                    self.store[key] = change["data"]
            self.cursor = body["cursor"]
            if not body["has_more"]:
                return

    def edit(self, type_: str, obj_id: str, **fields: Any) -> None:
        base = self.store.get((type_, obj_id), {}).get("version", 0)
        if (type_, obj_id) in self.store:
            self.store[(type_, obj_id)] = {**self.store[(type_, obj_id)], **fields}
        self.pending.append(
            {
                "op_id": f"{self.name}-{next(_ops)}",
                "type": type_,
                "action": "upsert",
                "id": obj_id,
                "base_version": base,
                "fields": fields,
            }
        )

    def create(self, type_: str, **fields: Any) -> str:
        obj_id = str(uuid.uuid4())
        self.pending.append(
            {
                "op_id": f"{self.name}-{next(_ops)}",
                "type": type_,
                "action": "upsert",
                "id": obj_id,
                "base_version": 0,
                "fields": fields,
            }
        )
        return obj_id

    def delete(self, type_: str, obj_id: str) -> None:
        base = self.store.get((type_, obj_id), {}).get("version", 0)
        self.store.pop((type_, obj_id), None)
        self.pending.append(
            {
                "op_id": f"{self.name}-{next(_ops)}",
                "type": type_,
                "action": "delete",
                "id": obj_id,
                "base_version": base,
            }
        )

    def push(self) -> list[dict[str, Any]]:
        if not self.pending:
            return []
        response = self.account.client.post("/v1/sync/push", {"ops": self.pending}, format="json")
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        self.results.extend(results)
        self.pending = []
        return results

    def sync(self) -> None:
        self.push()
        self.pull()


def push(account: Account, *ops: dict[str, Any]) -> list[dict[str, Any]]:
    response = account.client.post("/v1/sync/push", {"ops": list(ops)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def op(
    type_: str, obj_id: str, *, action: str = "upsert", base: int = 0, op_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    return {
        "op_id": op_id or f"op-{next(_ops)}",
        "type": type_,
        "action": action,
        "id": obj_id,
        "base_version": base,
        "fields": fields,
    }
