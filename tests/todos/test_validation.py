"""Bad input of every kind is a 400 problem (or 404/409/412), never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import Account, assert_problem

from .conftest import LISTS, TASKS, get_task, make_list, make_task

BAD_TASK_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"title": None}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 501}, "title"),
    ({"title": ["a"]}, "title"),
    ({"list": None}, "list"),
    ({"list": "nope"}, "list"),
    ({"list": 12.5}, "list"),
    ({"list": "{random}"}, "list"),
    ({"list": "{foreign_list}"}, "list"),
    ({"notes": "x" * 100_001}, "notes"),
    ({"notes": {"a": 1}}, "notes"),
    ({"done": "maybe"}, "done"),
    ({"done": [True]}, "done"),
    ({"priority": 4}, "priority"),
    ({"priority": -1}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"priority": 1.5}, "priority"),
    ({"priority": 10**40}, "priority"),
    ({"tags": "home"}, "tags"),
    ({"tags": [""]}, "tags.0"),
    ({"tags": ["   "]}, "tags.0"),
    ({"tags": ["x" * 65]}, "tags.0"),
    ({"tags": ["ok", "İ" * 64]}, "tags"),  # 64 characters, 128 once lower-cased
    ({"tags": [["nested"]]}, "tags.0"),
    ({"tags": [f"t{n}" for n in range(51)]}, "tags"),
    ({"due": "tomorrow"}, "due"),
    ({"due": "2025-02-30"}, "due"),
    ({"due": "2025-03-01T10:00:00"}, "due"),
    ({"due": "2025-03-01T10:00:00+01:00:30"}, "due"),
    ({"due": "0001-01-01T00:00:00+05:00"}, "due"),
    ({"due": "9999-12-31T23:59:59-05:00"}, "due"),
    ({"due": 20250301}, "due"),
    ({"due": {"date": "2025-03-01"}}, "due"),
    ({"recurrence": "daily", "due": "2025-01-01"}, "recurrence"),
    ({"recurrence": {"freq": "hourly"}, "due": "2025-01-01"}, "recurrence.freq"),
    ({"recurrence": {"interval": 2}, "due": "2025-01-01"}, "recurrence.freq"),
    ({"recurrence": {"freq": "daily", "interval": 0}, "due": "2025-01-01"}, "recurrence.interval"),
    ({"recurrence": {"freq": "daily", "interval": "often"}, "due": "2025-01-01"}, "recurrence.interval"),
    ({"recurrence": {"freq": "daily", "interval": 1001}, "due": "2025-01-01"}, "recurrence.interval"),
    ({"recurrence": {"freq": "daily"}}, "recurrence"),
    ({"parent": "x"}, "parent"),
    ({"parent": "{random}"}, "parent"),
    ({"id": "not-a-uuid"}, "id"),
    ({"id": -1}, "id"),
]


@pytest.fixture
def refs(account: Account, other_account: Account, inbox: dict[str, Any]) -> dict[str, str]:
    return {"random": str(uuid.uuid4()), "foreign_list": make_list(other_account)["id"], "inbox": inbox["id"]}


def _fill(body: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    return {k: v.format(**refs) if isinstance(v, str) and "{" in v else v for k, v in body.items()}


@pytest.mark.parametrize(("body", "field"), BAD_TASK_BODIES)
def test_bad_task_create(account: Account, refs: dict[str, str], body: dict[str, Any], field: str) -> None:
    full = {"title": "ok", "list": refs["inbox"], **_fill(body, refs)}
    problem = assert_problem(account.client.post(TASKS, full, format="json"), 400, "validation_error")
    assert field in problem["errors"], problem


@pytest.mark.parametrize(("body", "field"), [b for b in BAD_TASK_BODIES if "id" not in b[0]])
def test_bad_task_patch_and_put(
    account: Account, refs: dict[str, str], body: dict[str, Any], field: str
) -> None:
    task = make_task(account, refs["inbox"])
    url = f"{TASKS}/{task['id']}"
    problem = assert_problem(
        account.client.patch(url, _fill(body, refs), format="json"), 400, "validation_error"
    )
    assert field in problem["errors"], problem
    full = {"title": "ok", "list": refs["inbox"], **_fill(body, refs)}
    assert_problem(account.client.put(url, full, format="json"), 400, "validation_error")
    assert get_task(account, task["id"])["version"] == 1


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"a string"', b"null", b"42", json.dumps({"title": "\x00"}).encode()],
)
def test_malformed_bodies(account: Account, inbox: dict[str, Any], raw: bytes) -> None:
    task = make_task(account, inbox)
    for method, url in (("post", TASKS), ("patch", f"{TASKS}/{task['id']}"), ("post", LISTS)):
        response = getattr(account.client, method)(url, raw, content_type="application/json")
        assert response.status_code == 400, (method, url, raw, response.content)
        assert response["Content-Type"].startswith("application/problem+json")


def test_bad_ids_in_paths_are_404(account: Account) -> None:
    for url in (f"{TASKS}/not-a-uuid", f"{TASKS}/123", f"{LISTS}/x", f"{TASKS}/{uuid.uuid4()}/completions"):
        response = account.client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("application/problem+json")
    assert_problem(account.client.get(f"{TASKS}/{uuid.uuid4()}"), 404, "not_found")
    assert_problem(account.client.delete(f"{LISTS}/{uuid.uuid4()}"), 404, "not_found")
    # An unknown task is 404 whatever the body.
    assert_problem(account.client.put(f"{TASKS}/{uuid.uuid4()}", {}, format="json"), 404, "not_found")
    assert_problem(account.client.patch(f"{LISTS}/{uuid.uuid4()}", {"name": ""}, format="json"), 404)


def test_if_match_forms(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox)
    url = f"{TASKS}/{task['id']}"
    assert_problem(account.client.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH="garbage"), 412)
    assert_problem(account.client.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH='"2"'), 412)
    ok = account.client.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH='W/"1"')
    assert ok.status_code == 200
    assert ok["ETag"] == '"2"'
    assert (
        account.client.put(
            url, {"title": "y", "list": inbox["id"]}, format="json", HTTP_IF_MATCH="*"
        ).status_code
        == 200
    )
    stale = account.client.put(url, {"title": "z", "list": inbox["id"]}, format="json", HTTP_IF_MATCH='"2"')
    body = assert_problem(stale, 412, "precondition_failed")
    assert body["current_version"] == 3
    assert stale["ETag"] == '"3"'


def test_server_owned_fields_are_never_applied(account: Account, inbox: dict[str, Any]) -> None:
    sneaky = {
        "deleted_at": "2001-01-01T00:00:00Z",
        "completed_at": "2001-01-01T00:00:00Z",
        "completion_count": 99,
        "field_versions": {"title": 99},
        "owner": str(uuid.uuid4()),
        "version": 50,
    }
    task = make_task(account, inbox, **sneaky)
    assert task["completed_at"] is None
    assert task["completion_count"] == 0
    assert task["field_versions"]["title"] == 1
    patched = account.client.patch(f"{TASKS}/{task['id']}", {"title": "t", **sneaky}, format="json").json()
    assert patched["version"] == 2
    assert patched["completion_count"] == 0
    assert account.client.get(f"{TASKS}/{task['id']}").status_code == 200


def test_idempotent_create_compares_the_whole_body(account: Account, inbox: dict[str, Any]) -> None:
    chosen = str(uuid.uuid4())
    body = {
        "id": chosen,
        "title": "t",
        "list": inbox["id"],
        "due": "2025-03-01T10:00:00+01:00",
        "tags": ["B", "a"],
    }
    first = account.client.post(TASKS, body, format="json")
    assert first.status_code == 201
    # The same body, spelled differently but meaning the same, is the same create.
    same = {**body, "tags": ["a", "b"], "due": "2025-03-01T10:00+01:00"}
    again = account.client.post(TASKS, same, format="json")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["ETag"] == '"1"'
    # The same instant in another offset is a different due (the offset is part of it).
    assert_problem(
        account.client.post(TASKS, {**body, "due": "2025-03-01T09:00:00Z"}, format="json"), 409, "id_conflict"
    )
    other_list = make_list(account, name="other")
    assert_problem(
        account.client.post(TASKS, {**body, "list": other_list["id"]}, format="json"), 409, "id_conflict"
    )
    # After an edit, repeating the original create is a conflict, not a silent no-op.
    account.client.patch(f"{TASKS}/{chosen}", {"title": "edited"}, format="json")
    assert_problem(account.client.post(TASKS, body, format="json"), 409, "id_conflict")


def test_nul_characters_are_refused_not_500(account: Account, inbox: dict[str, Any]) -> None:
    for body in ({"title": "a\x00b"}, {"notes": "\x00"}, {"tags": ["a\x00"]}, {"position": "a\x00"}):
        response = account.client.post(TASKS, {"title": "t", "list": inbox["id"], **body}, format="json")
        assert_problem(response, 400, "invalid_text")
    assert_problem(account.client.post(LISTS, {"name": "\x00"}, format="json"), 400, "invalid_text")
    for params in ({"q": "a\x00"}, {"tag": "\x00"}):
        assert_problem(account.client.get(TASKS, params), 400, "invalid_text")


def test_task_list_pages_stop_at_the_byte_budget(
    account: Account, inbox: dict[str, Any], settings: Any
) -> None:
    for index in range(5):
        created = account.client.post(
            TASKS, {"title": f"t{index}", "list": inbox["id"], "notes": "n" * (40 * 1024)}, format="json"
        )
        assert created.status_code == 201
    settings.LIST_MAX_BYTES = 100 * 1024
    first = account.client.get(TASKS, {"limit": 200}).json()
    assert len(first["results"]) == 2  # 80 KiB of notes fit in 100; a third would not
    assert first["next"]
    assert all(len(task["notes"]) == 40 * 1024 for task in first["results"])
    seen = [task["id"] for task in first["results"]]
    url = first["next"]
    while url:
        page = account.client.get(url).json()
        seen += [task["id"] for task in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5
