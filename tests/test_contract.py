"""The schema as a contract (issue 14), checked over the whole served schema rather than example
by example: which operations are conditional, that `oneOf` branches never overlap, that every
operation is described for its users, and that a stale If-Match is refused everywhere the
schema says it is read."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import pytest
from django.test import Client

from tests.conftest import Account

# Every operation that honours If-Match (docs/api.md, "Versions and concurrency").
CONDITIONAL = {
    ("put", "/v1/todos/{task_id}"),
    ("patch", "/v1/todos/{task_id}"),
    ("delete", "/v1/todos/{task_id}"),
    ("put", "/v1/todos/lists/{list_id}"),
    ("patch", "/v1/todos/lists/{list_id}"),
    ("delete", "/v1/todos/lists/{list_id}"),
    ("put", "/v1/notes/{note_id}"),
    ("patch", "/v1/notes/{note_id}"),
    ("delete", "/v1/notes/{note_id}"),
    ("post", "/v1/notes/{note_id}/revisions/{number}/restore"),
    ("put", "/v1/files/{file_id}"),
    ("patch", "/v1/files/{file_id}"),
    ("delete", "/v1/files/{file_id}"),
    ("put", "/v1/files/{file_id}/viewer-state"),
    ("patch", "/v1/users/me"),
    ("delete", "/v1/users/me"),
    ("patch", "/v1/users/{user_id}"),
}
PROBES: list[Any] = ["", "x", "#aabbcc", 0, 1.5, True, None, {}, [], {"type": "task"}]


@cache
def _schema() -> dict[str, Any]:
    response = Client().get("/v1/schema", {"format": "json"})
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in _schema()["paths"].items()
        for method, operation in operations.items()
    ]


def test_if_match_is_declared_on_exactly_the_conditional_operations() -> None:
    declared = {
        (method, path)
        for method, path, operation in _operations()
        if any(p["name"] == "If-Match" and p["in"] == "header" for p in operation.get("parameters", []))
    }
    assert declared == CONDITIONAL, declared ^ CONDITIONAL
    for method, path, operation in _operations():
        if (method, path) in CONDITIONAL:
            assert "ETag" in operation["responses"]["412"]["headers"], (method, path)


def _branches(node: Any) -> list[list[Any]]:
    found = []
    if isinstance(node, dict):
        if "oneOf" in node:
            found.append(node["oneOf"])
        for value in node.values():
            found += _branches(value)
    elif isinstance(node, list):
        for value in node:
            found += _branches(value)
    return found


def test_one_of_branches_never_accept_the_same_value() -> None:
    """`oneOf` fails a strict validator when a value matches two branches (the list colour's
    pattern and an empty-string branch both took `""`)."""
    schema = _schema()
    unions = _branches(schema["paths"]) + _branches(schema["components"])
    assert unions
    for branches in unions:
        for probe in PROBES:
            matching = [
                branch
                for branch in branches
                if jsonschema.Draft4Validator({**branch, "components": schema["components"]}).is_valid(probe)
            ]
            assert len(matching) <= 1, (probe, branches)


def test_every_operation_is_described_for_its_users() -> None:
    for method, path, operation in _operations():
        assert operation.get("summary"), (method, path)
        text = operation.get("description", "")
        for internal in ("For DRF views", "instead of a 500", "Identity endpoints that", "documentation:"):
            assert internal not in text, (method, path, internal)
    described = {(m, p) for m, p, op in _operations() if op.get("description")}
    assert {("get", "/v1/sync/changes"), ("post", "/v1/sync/push")} <= described
    for name, component in _schema()["components"]["schemas"].items():
        assert "documentation:" not in component.get("description", ""), name


@pytest.mark.django_db
def test_a_stale_if_match_is_refused_on_the_account(account: Account) -> None:
    """The conditional operations of the account itself (the others are exercised through the
    generated clients, tests/clients)."""
    stale = '"999999"'
    answer = account.client.patch("/v1/users/me", {"display_name": "x"}, format="json", HTTP_IF_MATCH=stale)
    assert answer.status_code == 412
    assert answer["ETag"] == f'"{answer.json()["current_version"]}"'
    assert account.client.delete("/v1/users/me", HTTP_IF_MATCH=stale).status_code in (403, 412)
    assert account.client.get("/v1/users/me").json()["display_name"] != "x"
