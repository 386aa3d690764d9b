"""The push fast paths accept exactly what the full validation accepts, or defer to it.

`_plain_op` (the envelope) and `plain_note_fields` (a note's fields) skip DRF serializers for
plainly valid input. They must never accept more than the serializers, nor shape it otherwise:
checked here on a corpus of valid, odd and invalid inputs."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from apps.common.errors import ApplicationError
from apps.notes import services as notes
from apps.notes.api.serializers import NoteWriteInput, plain_note_fields
from apps.sync.api import serializers as s
from apps.sync.api.views import _plain_op

# Fixed, not random: it names parametrized tests, and every xdist worker must collect the same.
ID = "4a222721-480e-4a08-9661-b30a7543c349"

FIELDS: list[Any] = [
    {},
    {"title": "T"},
    {"title": "  padded "},
    {"title": "x" * 500},
    {"title": "x" * 501},
    {"title": 5},
    {"title": None},
    {"body": "b" * 1000},
    {"body": " keep spaces "},
    {"tags": ["A", "a ", "b  c"]},
    {"tags": []},
    {"tags": [""]},
    {"tags": "x"},
    {"tags": [1]},
    {"tags": ["t"] * 51},
    {"pinned": True},
    {"pinned": "true"},
    {"pinned": 1},
    {"archived": False},
    {"files": []},
    {"files": [ID]},
    {"files": "x"},
    {"colour": "red"},
    {"title": "T", "owner": ID},
    [],
    "x",
    None,
]


def _full(fields: Any) -> dict[str, Any] | None:
    data = NoteWriteInput(data=fields, partial=True)
    try:
        data.is_valid(raise_exception=True)
        return notes.clean_fields(data.validated_data)
    except (ValidationError, ApplicationError):
        return None


@pytest.mark.parametrize("fields", FIELDS, ids=repr)
def test_plain_note_fields_agree_with_the_serializer(fields):
    fast = plain_note_fields(fields)
    if fast is not None:
        assert fast == _full(fields)


OPS: list[Any] = [
    {"op_id": "a1", "type": "note", "action": "upsert", "id": ID},
    {"op_id": "a1", "type": "note", "action": "delete", "id": ID, "base_version": 3, "fields": {}},
    {"op_id": "a:1.b-c_d", "type": "task", "action": "upsert", "id": ID, "fields": {"title": "x"}},
    {"op_id": "", "type": "note", "action": "upsert", "id": ID},
    {"op_id": "a" * 65, "type": "note", "action": "upsert", "id": ID},
    {"op_id": "sp ace", "type": "note", "action": "upsert", "id": ID},
    {"op_id": 1, "type": "note", "action": "upsert", "id": ID},
    {"op_id": "a", "type": "spaceship", "action": "upsert", "id": ID},
    {"op_id": "a", "type": "note", "action": "merge", "id": ID},
    {"op_id": "a", "type": "note", "action": "upsert", "id": "nope"},
    {"op_id": "a", "type": "note", "action": "upsert", "id": 5},
    {"op_id": "a", "type": "note", "action": "upsert", "id": ID, "base_version": -1},
    {"op_id": "a", "type": "note", "action": "upsert", "id": ID, "base_version": "2"},
    {"op_id": "a", "type": "note", "action": "upsert", "id": ID, "base_version": True},
    {"op_id": "a", "type": "note", "action": "upsert", "id": ID, "fields": []},
    {"op_id": "a", "type": "note", "action": "upsert", "id": ID, "extra": 1},
    [],
    "op",
    None,
]


@pytest.mark.parametrize("raw", OPS, ids=repr)
def test_plain_op_agrees_with_the_serializer(raw):
    fast = _plain_op(raw)
    if fast is None:
        return
    full = s.PushOpInput(data=raw)
    assert full.is_valid(), full.errors
    data = full.validated_data
    assert (fast.op_id, fast.type, fast.action, fast.id, fast.base_version, dict(fast.fields)) == (
        data["op_id"],
        data["type"],
        data["action"],
        data["id"],
        data["base_version"],
        data["fields"],
    )


def test_the_corpus_exercises_both_paths():
    assert sum(plain_note_fields(f) is not None for f in FIELDS) >= 8
    assert sum(_plain_op(o) is not None for o in OPS) >= 3
