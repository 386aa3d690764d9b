"""Regression tests of issue 12's poisoned-input reports: each request below answered 500 (and,
in a push, failed the whole batch) before the fix. The classes behind them are fuzzed over the
whole schema by test_hostile_input.py; these pin the exact reproductions."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from apps.sync.models import PushedOp
from apps.todos.models import Task
from tests.conftest import Account, assert_problem
from tests.library import factories
from tests.library.conftest import upload
from tests.sync.helpers import op

pytestmark = pytest.mark.django_db

NUL = "Chapter\u0000one"
SURROGATE = "Chapter \ud800 one"


def _raw(account: Account, method: str, path: str, body: Any, **extra: Any) -> Any:
    """Send `body` as the JSON a browser's JSON.stringify makes (lone surrogates as \\uXXXX
    escapes, which the test client's own encoder cannot produce)."""
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return account.client.generic(method, path, text, content_type="application/json", **extra)


def _push(account: Account, *ops: dict[str, Any]) -> list[dict[str, Any]]:
    response = _raw(account, "POST", "/v1/sync/push", {"ops": list(ops)})
    assert response.status_code == 200, response.content
    return list(response.json()["results"])


def _epub(account: Account) -> dict[str, Any]:
    response = upload(account.client, factories.epub_bytes(chapters=3), "book.epub")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _when(minutes: int = 0) -> str:
    return (datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def _locator(title: str) -> dict[str, Any]:
    return {
        "href": "OEBPS/text/ch1.xhtml",
        "type": "application/xhtml+xml",
        "title": title,
        "locations": {"progression": 0.5},
    }


# --- a poisoned op is rejected alone; the rest of the batch applies -----------------------------


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_poisoned_viewer_state_title_is_rejected_alone(account: Account, bad: str) -> None:
    book = _epub(account)
    good = op("tasklist", str(uuid.uuid4()), name="Groceries")
    poisoned = op("viewer_state", book["id"], device={"id": "kobo"}, modified=_when(), locator=_locator(bad))
    also_good = op("note", str(uuid.uuid4()), title="Still applied")
    results = _push(account, good, poisoned, also_good)
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "invalid_text"
    assert results[1]["errors"] == {"fields.locator.title": [results[1]["errors"]["fields.locator.title"][0]]}
    assert results[1]["op_id"] == poisoned["op_id"]
    state = account.client.get(f"/v1/files/{book['id']}/viewer-state").json()
    assert state["version"] == 0  # nothing of the poisoned op was written


def test_a_validation_error_quoting_the_input_is_rejected_not_500(account: Account) -> None:
    bad = op("task", str(uuid.uuid4()), title="Water plants", recurrence={"freq": "\u0000daily"})
    good = op("tasklist", str(uuid.uuid4()), name="Home")
    results = _push(account, bad, good)
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "invalid_text"
    # What was stored for the op (and is answered to its retries) is the same storable result.
    stored = PushedOp.objects.filter(owner_id=account.id, op_id=bad["op_id"]).first()
    assert stored is None or stored.result == results[0]
    assert _push(account, bad, good) == results


def test_an_upsert_to_a_deleted_object_with_poisoned_fields_is_rejected(account: Account) -> None:
    note_id = str(uuid.uuid4())
    [created] = _push(account, op("note", note_id, title="To delete"))
    [deleted] = _push(account, op("note", note_id, action="delete", base=created["version"]))
    assert deleted["status"] == "applied"
    results = _push(
        account, op("note", note_id, base=1, title=NUL), op("note", str(uuid.uuid4()), title="Fine")
    )
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "invalid_text"


def test_a_poisoned_key_and_a_poisoned_op_id_are_not_echoed(account: Account) -> None:
    results = _push(
        account,
        {"op_id": "op\u0000x", "type": "note", "action": "upsert", "id": str(uuid.uuid4()), "fields": {}},
        op("note", str(uuid.uuid4()), **{"ti\ud800tle": "x"}),
        op("note", str(uuid.uuid4()), title="Fine"),
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "applied"]
    assert results[0]["op_id"] is None  # the malformed op_id is not repeated
    assert results[1]["code"] == "invalid_text"
    assert "\ud800" not in json.dumps(results)


def test_an_unexpected_error_in_one_op_fails_that_op_only(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one type's write path (here: the note type's update raising) must not wedge the
    device: that op is answered `rejected`/`op_failed`, remembered, and the batch goes on."""
    from apps.sync import registry

    note_id = str(uuid.uuid4())
    [created] = _push(account, op("note", note_id, title="Before"))
    note_type = registry.get("note")

    def broken_update(**kwargs: Any) -> Any:
        raise RuntimeError("a bug in the write path")

    monkeypatch.setattr(note_type, "update", broken_update)
    broken = op("note", note_id, base=created["version"], title="After")
    results = _push(account, broken, op("tasklist", str(uuid.uuid4()), name="Applied anyway"))
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "op_failed"
    assert "RuntimeError" not in json.dumps(results)
    assert _push(account, broken)[0] == results[0]  # a retry gets the same answer


# --- the same strings through REST and kosync ---------------------------------------------------


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_viewer_state_put_refuses_unstorable_text(account: Account, bad: str) -> None:
    book = _epub(account)
    body = {"device": {"id": "kobo"}, "modified": _when(), "locator": _locator(bad)}
    response = _raw(account, "PUT", f"/v1/files/{book['id']}/viewer-state", body)
    problem = assert_problem(response, 400, "invalid_text")
    assert list(problem["errors"]) == ["locator.title"]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/todos", {"title": "{bad}", "recurrence": {"freq": "daily"}}),
        ("/v1/todos", {"title": "ok", "recurrence": {"freq": "{bad}daily"}}),
        ("/v1/notes", {"title": "ok", "tags": ["{bad}"]}),
        ("/v1/todos/lists", {"name": "{bad}"}),
    ],
)
def test_rest_bodies_refuse_unstorable_text(
    account: Account, path: str, body: dict[str, Any], bad: str
) -> None:
    text = json.dumps(body).replace("{bad}", json.dumps(bad)[1:-1])
    before = Task.objects.count()
    assert_problem(_raw(account, "POST", path, text), 400, "invalid_text")
    assert Task.objects.count() == before


@pytest.mark.parametrize("field", ["progress", "device", "device_id"])
@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_kosync_progress_refuses_unstorable_text(account: Account, field: str, bad: str) -> None:
    from tests.library.test_kosync import BASE, KEY, KOSYNC_PASSWORD, VND

    response = account.client.patch(
        "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": account.password}
    )
    assert response.status_code == 200
    body = {
        "document": "0123456789abcdef0123456789abcdef",
        "progress": "12",
        "percentage": 0.5,
        "device": "kobo",
    }
    body[field] = bad
    response = account.client.generic(
        "PUT",
        f"{BASE}/syncs/progress",
        json.dumps(body),
        content_type="application/json",
        HTTP_ACCEPT=VND,
        HTTP_X_AUTH_USER=account.email,
        HTTP_X_AUTH_KEY=KEY,
    )
    assert response.status_code == 403, response.content
    assert response.json() == {"code": 2003, "message": "Invalid request"}


def test_kosync_user_header_with_nul_is_unauthorized(account: Account) -> None:
    from tests.library.test_kosync import BASE, KEY, VND

    response = account.client.get(
        f"{BASE}/users/auth", HTTP_ACCEPT=VND, HTTP_X_AUTH_USER=account.email + "\u0000", HTTP_X_AUTH_KEY=KEY
    )
    assert response.status_code == 401
    assert response.json()["code"] == 2001


# --- nesting and numbers: refused before any recursion ------------------------------------------

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/v1/auth/token", False),
        ("/v1/auth/register", False),
        ("/v1/auth/password/reset", False),
        ("/v1/notes", True),
        ("/v1/sync/push", True),
    ],
)
def test_deep_nesting_is_400_everywhere(api: Any, account: Account, path: str, signed_in: bool) -> None:
    client = account.client if signed_in else api
    response = client.generic("POST", path, DEEP, content_type="application/json")
    problem = assert_problem(response, 400, "json_too_deep")
    assert problem["max_depth"] == 32


def test_deep_nesting_to_kosync_is_its_bad_json(account: Account) -> None:
    from tests.library.test_kosync import BASE, VND

    response = account.client.generic(
        "PUT", f"{BASE}/syncs/progress", DEEP, content_type="application/json", HTTP_ACCEPT=VND
    )
    assert response.status_code == 400
    assert response.json()["code"] == 103


def test_the_nesting_limit_is_exact(account: Account) -> None:
    def nested(depth: int) -> str:
        return '{"title": "t", "tags": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    # 32 levels: the object and 31 arrays; the tags are then not strings, a validation error.
    assert_problem(_raw(account, "POST", "/v1/notes", nested(32)), 400, "validation_error")
    assert_problem(_raw(account, "POST", "/v1/notes", nested(33)), 400, "json_too_deep")


@pytest.mark.parametrize(
    "number",
    ["1" * 5000, "-" + "9" * 5000, "1e400", "NaN", "Infinity", "-Infinity"],
    ids=["5000-digits", "negative-5000-digits", "1e400", "nan", "inf", "-inf"],
)
def test_numbers_no_float_can_hold_are_a_clean_parse_error(account: Account, number: str) -> None:
    body = '{"ops": [{"op_id": "n1", "type": "note", "action": "upsert", "id": "%s", "base_version": %s}]}'
    response = _raw(account, "POST", "/v1/sync/push", body % (uuid.uuid4(), number))
    problem = assert_problem(response, 400, "parse_error")
    assert "sys." not in problem["detail"]
    assert "int_max_str_digits" not in problem["detail"]


# --- URLs: query strings and cursors ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/todos", "/v1/todos/lists", "/v1/files", "/v1/notes"])
def test_a_cursor_carrying_nul_or_a_surrogate_is_404(account: Account, path: str) -> None:
    for value in ("\u0000", "\ud800"):
        payload = json.dumps({"o": ["-created_at", "-id"], "p": [value, value]}).encode()
        cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        assert_problem(account.client.get(path, {"cursor": cursor}), 404)


@pytest.mark.parametrize(
    "query",
    ["cursor=%00", "q=%00", "tag=a%00b", "limit=1%00", "%00=1"],
    ids=["cursor", "q", "tag", "limit", "key"],
)
def test_a_query_string_with_nul_is_400(account: Account, query: str) -> None:
    assert_problem(account.client.get(f"/v1/todos?{query}"), 400, "invalid_text")


def test_staff_search_with_nul_is_400(staff_account: Account) -> None:
    assert_problem(staff_account.client.get("/v1/users", {"q": "\u0000"}), 400, "invalid_text")


def test_admin_search_with_nul_is_400(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    assert_problem(client.get("/admin/identity/user/?q=%00"), 400, "invalid_text")


def test_nothing_reached_the_database_as_nul(account: Account) -> None:
    """The refusals above happen before SQL: PostgreSQL never sees the text (it would raise)."""
    with connection.execute_wrapper(_refuse_nul_sql):
        assert_problem(account.client.get("/v1/todos?q=%00"), 400, "invalid_text")
        assert_problem(_raw(account, "POST", "/v1/notes", {"title": NUL}), 400, "invalid_text")


def _refuse_nul_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    assert "\x00" not in repr(params)
    return execute(sql, params, many, context)


# --- found by the fuzzer (test_hostile_input.py) ------------------------------------------------


@pytest.mark.parametrize("tag", ['"²"', '"' + "9" * 5000 + '"', '"\u0661"', 'W/"1\u0000"'])
def test_an_if_match_we_never_issued_matches_nothing(account: Account, tag: str) -> None:
    note = account.client.post("/v1/notes", {"title": "t"}, format="json").json()
    response = account.client.patch(
        f"/v1/notes/{note['id']}", {"title": "u"}, format="json", HTTP_IF_MATCH=tag
    )
    assert_problem(response, 412, "precondition_failed")


def test_an_op_that_is_not_an_object_is_rejected_alone(account: Account) -> None:
    good = op("note", str(uuid.uuid4()), title="fine")
    results = _push(account, good, "\ud800", 7, None, op("tasklist", str(uuid.uuid4()), name="ok"))
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected", "applied"]
    assert results[1]["code"] == "invalid_text"
    assert results[2]["code"] == "validation_error"


def test_a_cursor_holding_an_infinite_number_is_404(account: Account) -> None:
    note = account.client.post("/v1/notes", {"title": "t"}, format="json").json()
    payload = b'{"o": ["-number"], "p": [1e400]}'
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    assert_problem(account.client.get(f"/v1/notes/{note['id']}/revisions", {"cursor": cursor}), 404)


def test_kosync_registration_refuses_names_no_account_can_have(api: Any, settings: Any) -> None:
    from tests.library.test_kosync import BASE, KEY, VND

    settings.KOSYNC_REGISTRATION_ENABLED = True
    for username, key in (("a" * 10_000 + "@example.org", KEY), ("ok@example.org", "k" * 10_000)):
        response = api.post(
            f"{BASE}/users/create", {"username": username, "password": key}, format="json", HTTP_ACCEPT=VND
        )
        assert response.status_code == 403, response.content
        assert response.json()["code"] == 2003
