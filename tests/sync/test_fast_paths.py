"""The push fast paths accept exactly what the full validation accepts, or defer to it.

`_plain_op` (the envelope), `plain_note_fields` (a note's fields) and `plain_task_fields` (a
task's plain edits) skip DRF serializers for plainly valid input. They must never accept more
than the serializers, nor shape it otherwise: checked here on a corpus of valid, odd and invalid
inputs, and as Hypothesis properties over generated ones (the fast path, when it answers,
answers what the serializer does)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from apps.common.errors import ApplicationError
from apps.notes import services as notes
from apps.notes.api.serializers import _NOTE_RULES, NoteWriteInput, plain_note_fields
from apps.notes.models import EDITABLE_FIELDS
from apps.sync.api import serializers as s
from apps.sync.api.views import _plain_op
from apps.todos.api.serializers import TaskInput, plain_task_fields

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


# --- the same, as properties over generated input ----------------------------------------------

_TEXT = st.one_of(st.text(max_size=8), st.text(alphabet="x ", min_size=498, max_size=502))
_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    _TEXT,
    st.just(ID),
    st.lists(st.one_of(st.text(max_size=70), st.integers(), st.none()), max_size=52),
    st.lists(st.one_of(st.just(ID), st.uuids().map(str)), max_size=2),
)
_NOTE_FIELDS = st.one_of(
    # Mostly well-formed (the fast path's own ground), with odd text in it.
    st.fixed_dictionaries(
        {},
        optional={
            "title": _TEXT,
            "body": st.text(max_size=50),
            "tags": st.lists(st.text(max_size=12), max_size=6),
            "pinned": st.booleans(),
            "archived": st.booleans(),
            "files": st.just([]),
        },
    ),
    st.dictionaries(
        st.sampled_from(["title", "body", "tags", "pinned", "archived", "files", "colour", "owner"]),
        _VALUE,
        max_size=5,
    ),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)
_OP = st.fixed_dictionaries(
    {
        "op_id": st.one_of(
            st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True), st.text(max_size=70), st.integers()
        ),
        "type": st.sampled_from(["note", "task", "tasklist", "file", "viewer_state", "spaceship", 5]),
        "action": st.sampled_from(["upsert", "delete", "merge", None]),
        "id": st.one_of(st.just(ID), st.uuids().map(str), st.text(max_size=5), st.integers()),
    },
    optional={
        "base_version": st.one_of(st.integers(-2, 10**20), st.booleans(), st.text(max_size=3), st.none()),
        "fields": st.one_of(
            st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
            st.lists(st.integers(), max_size=1),
            st.none(),
        ),
        "extra": st.integers(),
    },
)
_GENERATED = settings(max_examples=300, derandomize=True, database=None, deadline=None)


@_GENERATED
@given(fields=_NOTE_FIELDS)
def test_plain_note_fields_never_accept_more_than_the_serializer(fields: Any) -> None:
    fast = plain_note_fields(fields)
    if fast is not None:
        assert fast == _full(fields)


@_GENERATED
@given(raw=_OP)
def test_plain_op_never_accepts_more_than_the_serializer(raw: Any) -> None:
    test_plain_op_agrees_with_the_serializer(raw)


# --- a task's plain edits (the batched update path) ----------------------------------------------

TASK_FIELDS: list[Any] = [
    {},
    {"title": "T"},
    {"title": ""},
    {"title": " padded"},
    {"title": "x" * 500},
    {"title": "x" * 501},
    {"title": 5},
    {"notes": ""},
    {"notes": " keep spaces "},
    {"notes": "n" * 100_001},
    {"notes": "\x00"},
    {"priority": 0},
    {"priority": 3},
    {"priority": 4},
    {"priority": -1},
    {"priority": True},
    {"priority": "2"},
    {"priority": 2.0},
    {"tags": ["A", "a ", "b  c"]},
    {"tags": ["x", "y z"]},
    {"title": "T", "notes": "n", "priority": 1, "tags": []},
    {"tags": [""]},
    {"tags": "x"},
    {"done": True},
    {"due": "2027-01-01"},
    {"after": ID},
    {"title": "T", "list": ID},
    [],
    None,
]


def _full_task(fields: Any) -> dict[str, Any] | None:
    data = TaskInput(data=fields, partial=True)
    if not data.is_valid():
        return None
    return dict(data.validated_data)


@pytest.mark.parametrize("fields", TASK_FIELDS, ids=repr)
def test_plain_task_fields_agree_with_the_serializer(fields):
    fast = plain_task_fields(fields)
    if fast is not None:
        assert fast == _full_task(fields)


def test_the_task_corpus_exercises_both_paths():
    assert sum(plain_task_fields(f) is not None for f in TASK_FIELDS) >= 8
    assert sum(plain_task_fields(f) is None and _full_task(f) is not None for f in TASK_FIELDS) >= 4


_TASK_FIELDS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "title": _TEXT,
            "notes": st.text(max_size=50),
            "priority": st.one_of(st.integers(-1, 4), st.booleans(), st.floats(0, 3)),
            "tags": st.lists(st.text(max_size=12), max_size=6),
        },
    ),
    st.dictionaries(
        st.sampled_from(["title", "notes", "priority", "tags", "done", "list"]), _VALUE, max_size=4
    ),
    st.none(),
)


@_GENERATED
@given(fields=_TASK_FIELDS)
def test_plain_task_fields_never_accept_more_than_the_serializer(fields: Any) -> None:
    fast = plain_task_fields(fields)
    if fast is not None:
        assert fast == _full_task(fields)


def test_the_note_fast_path_knows_every_editable_field():
    """A field it did not know would only be slower (the serializer decides); one it knew that
    the model does not have would be a bug."""
    assert _NOTE_RULES.keys() == set(EDITABLE_FIELDS)
