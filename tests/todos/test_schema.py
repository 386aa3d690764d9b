"""The OpenAPI schema describes every todos route with the wire fields of DESIGN.md."""

from __future__ import annotations

from typing import Any

from tests.conftest import Account

WIRE_FIELDS = {
    "id", "list", "title", "notes", "done", "completed_at", "due", "priority", "tags", "position",
    "parent", "recurrence", "version", "created_at", "updated_at",
}  # fmt: skip


def test_schema_covers_the_todos_api(account: Account) -> None:
    response = account.client.get("/v1/schema", {"format": "json"})
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    paths = schema["paths"]
    assert set(paths["/v1/todos"]) >= {"get", "post"}
    assert set(paths["/v1/todos/{task_id}"]) >= {"get", "put", "patch", "delete"}
    assert set(paths["/v1/todos/lists"]) >= {"get", "post"}
    assert set(paths["/v1/todos/lists/{list_id}"]) >= {"get", "put", "patch", "delete"}
    assert "post" in paths["/v1/todos/bulk"]
    assert "get" in paths["/v1/todos/{task_id}/completions"]
    components = schema["components"]["schemas"]
    assert set(components["TaskOutput"]["properties"]) >= WIRE_FIELDS
    parameters = {p["name"] for p in paths["/v1/todos"]["get"]["parameters"]}
    assert parameters >= {
        "list", "done", "due_before", "due_after", "overdue", "tag", "parent", "q", "updated_since",
        "ordering", "cursor", "limit",
    }  # fmt: skip
    assert {p["name"] for p in paths["/v1/todos/lists"]["get"]["parameters"]} >= {"archived", "ordering"}
