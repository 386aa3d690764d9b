"""Measure 4 of `make bench` as a test: SQL queries per list and detail request.

Query counts can be asserted (timings cannot, see docs/benchmarks.md): a list or detail read
with a cached session costs at most 2 queries, the same for a page of 10 and of 100, counted on
every database alias (primary and replica).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.conftest import Account
from tests.library.factories import pdf_bytes
from tests.notes.conftest import create_note
from tests.todos.conftest import make_list, make_task

pytestmark = pytest.mark.django_db(databases="__all__")
BUDGET = 2


def queries(account: Account, path: str) -> int:
    with ExitStack() as stack:
        captures = [
            stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in settings.DATABASES
        ]
        response = account.client.get(path)
    assert response.status_code == 200, response.content
    return sum(len(capture.captured_queries) for capture in captures)


@pytest.fixture
def filled(account: Account) -> dict[str, Any]:
    """110 tasks (dues of both kinds, recurrences, sub-tasks, tags) and 110 notes, some of them
    linking library files (one of those files deleted)."""
    inbox = make_list(account)
    parent = None
    for index in range(110):
        fields: dict[str, Any] = {"title": f"t{index}", "tags": ["a"] if index % 2 else []}
        if index % 3 == 1:
            fields["due"] = "2025-03-01"
        elif index % 3 == 2:
            fields["due"] = "2025-03-01T09:00:00+01:00"
        if index % 7 == 0 and "due" in fields:
            fields["recurrence"] = {"freq": "weekly"}
        if index % 10 == 5 and parent:
            fields["parent"] = parent
        task = make_task(account, inbox, **fields)
        if index % 10 == 0:
            parent = task["id"]
    files = []
    for _ in range(2):
        upload = account.client.post("/v1/files", {"file": _pdf()}, format="multipart")
        assert upload.status_code == 201, upload.content
        files.append(upload.json()["id"])
    notes = [
        create_note(account, title=f"n{index}", tags=["x"], files=files if index % 5 == 0 else [])
        for index in range(110)
    ]
    assert account.client.delete(f"/v1/files/{files[1]}").status_code == 204
    account.client.get("/v1/todos")  # the session state is cached from here on
    return {"task": task["id"], "note": notes[0]["id"]}


def _pdf() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("doc.pdf", pdf_bytes(), content_type="application/pdf")


@pytest.mark.parametrize("path", ["/v1/todos", "/v1/notes", "/v1/todos/lists", "/v1/notes?q=n1"])
def test_lists_cost_at_most_two_queries_whatever_the_page_size(
    account: Account, filled: dict[str, Any], path: str
) -> None:
    join = "&" if "?" in path else "?"
    counts = {limit: queries(account, f"{path}{join}limit={limit}") for limit in (10, 100)}
    assert counts[10] == counts[100], counts
    assert counts[100] <= BUDGET, counts


@pytest.mark.parametrize("kind", ["task", "note"])
def test_details_cost_at_most_two_queries(account: Account, filled: dict[str, Any], kind: str) -> None:
    path = f"/v1/todos/{filled['task']}" if kind == "task" else f"/v1/notes/{filled['note']}"
    assert queries(account, path) <= BUDGET
