"""The lean read paths (rows + orjson, for `make bench`'s targets) answer exactly what the DRF
output serializers would: same keys in the same order, same values once rendered."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rest_framework.renderers import JSONRenderer

from apps.common.renderers import ORJSONRenderer
from apps.notes import selectors as note_selectors
from apps.notes.api.serializers import NOTE_ROW, NoteOutput
from apps.notes.models import Note
from apps.todos import selectors as task_selectors
from apps.todos.api.serializers import TASK_ROW, TaskOutput
from apps.todos.models import Task
from tests.conftest import Account

from .test_query_budget import filled  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(databases="__all__")


def rendered_by_drf(data: Any) -> Any:
    return orjson.loads(JSONRenderer().render(data))


def rendered_lean(data: Any) -> Any:
    return orjson.loads(ORJSONRenderer().render(data))


def test_tasks_as_rows_render_like_task_output(account: Account, filled: dict[str, Any]) -> None:  # noqa: F811
    tasks = Task.objects.filter(owner_id=account.id).order_by("id")
    rows = task_selectors.task_rows(tasks, columns=TASK_ROW.model_columns)
    assert len(rows) == 110
    for task, row in zip(tasks, rows, strict=True):
        expected = rendered_by_drf(TaskOutput(task).data)
        lean = rendered_lean(TASK_ROW(row))
        assert list(lean) == list(expected)
        assert lean == expected


def test_notes_as_rows_render_like_note_output(account: Account, filled: dict[str, Any]) -> None:  # noqa: F811
    notes = note_selectors.note_list(owner_id=account.id).order_by("id")
    rows = note_selectors.note_files(list(note_selectors.note_rows(notes, columns=NOTE_ROW.model_columns)))
    assert any(row["file_ids"] for row in rows)
    for note, row in zip(notes, rows, strict=True):
        expected = rendered_by_drf(NoteOutput(note).data)
        lean = rendered_lean(NOTE_ROW(row))
        assert list(lean) == list(expected)
        assert lean == expected
    assert Note.objects.filter(owner_id=account.id).count() == 110


def test_api_answers_are_unchanged_in_bytes_that_matter(account: Account, filled: dict[str, Any]) -> None:  # noqa: F811
    body = account.client.get("/v1/notes", {"limit": 3})
    assert body["Content-Type"] == "application/json"
    first = body.json()["results"][0]
    assert first["created_at"].endswith("Z")
    detail = account.client.get(f"/v1/notes/{filled['note']}")
    assert detail["ETag"] == f'"{detail.json()["version"]}"'
