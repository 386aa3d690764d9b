"""Notes in the sync feed: reads and writes go through this app's serializers and services, so
a pushed note meets exactly the REST API's rules. A body or title that loses a conflict is kept
as a revision of the note (reason `conflict`), so no edit is ever lost."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from django.db import router

from apps.common import db
from apps.common.renderers import OPTIONS
from apps.sync.registry import OVER_BUDGET, FieldMergedType, OverBudget, Shaped, encode

from . import selectors, services
from .api.serializers import NOTE_ROW, NoteOutput, NoteWriteInput, plain_note_fields
from .models import Note, NoteRevision

# A pull page's notes, selected in NOTE_ROW's key order from its columns, so a row zips straight
# into the shape of GET /v1/notes/{id} (tests check the two are equal; a note field that is not
# one column fails here at import, with a KeyError naming it). A body comes along only when it is
# small (a page of such bodies fits the budget); each row's text size comes last, so the page can
# end at its byte budget and fetch only its own large bodies. Tags and links come as text: orjson
# reads JSON ~5x faster than the json module, and psycopg's array loader cost more than the
# rest of the row for a (nearly always empty) uuid[] (figures: docs/benchmarks.md). Table
# names come from the models.
_LINKS = Note.linked_files.through._meta.db_table
_FILES = Note.linked_files.field.related_model._meta.db_table
_PULL_SQL_OF = {
    "body": "CASE WHEN octet_length(n.body) <= %(small)s THEN n.body END",
    "tags": "n.tags::text",
    "files": f"ARRAY(SELECT l.file_id FROM {_LINKS} l JOIN {_FILES} f ON f.id = l.file_id"  # noqa: S608
    " WHERE l.note_id = n.id AND f.deleted_at IS NULL ORDER BY l.file_id)::text",
}
_PULL_KEYS = NOTE_ROW.keys
_BODY_AT = _PULL_KEYS.index("body")
_NOTES = Note._meta.db_table
_SELECT = ", ".join(_PULL_SQL_OF.get(key, f"n.{NOTE_ROW.plain[key]}") for key in _PULL_KEYS)
# The page's rows are found by primary key first (a materialized CTE), then checked for owner and
# deletion: with `owner_id = … AND id = ANY(…)` together, a planner whose statistics do not yet
# know a freshly imported account (autoanalyze waits for 10 % of the table to change) estimates
# one row for the owner and scans the owner's index instead — every note of the account, for
# every page: 17 ms a page instead of 0.6 after a 20,000-note import (docs/benchmarks.md,
# measure 13). The CTE leaves the planner only the primary key. (search_vector is no model
# field, so it is not carried along.)
_COLUMNS = ", ".join(str(field.column) for field in Note._meta.concrete_fields)
_BY_ID = f"WITH n AS MATERIALIZED (SELECT {_COLUMNS} FROM {_NOTES} WHERE id = ANY(%(ids)b::uuid[]))"  # noqa: S608
_PULL_PAGE = (
    f"{_BY_ID} SELECT {_SELECT}, octet_length(n.title) + octet_length(n.body) FROM n "  # noqa: S608
    "WHERE n.owner_id = %(owner)s AND n.deleted_at IS NULL"
)
_BODIES = f"{_BY_ID} SELECT id, body FROM n WHERE owner_id = %(owner)s"  # noqa: S608


def _within(
    ids: Sequence[uuid.UUID], sizes: dict[uuid.UUID, int], max_bytes: int
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The live ids (those with a size) in feed order, split where their text reaches
    `max_bytes`: the ones a page loads (one at least) and the ones left to the next page."""
    live = [note_id for note_id in ids if note_id in sizes]
    used = 0
    for index, note_id in enumerate(live):
        if index and used + sizes[note_id] > max_bytes:
            return live[:index], live[index:]
        used += sizes[note_id]
    return live, []


class NoteSync(FieldMergedType):
    model = Note
    output_serializer = NoteOutput
    input_serializer = NoteWriteInput
    creator = services.note_create
    deleter = services.note_delete
    lister = selectors.note_list

    def fetch_shaped(
        self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID], max_bytes: int
    ) -> dict[uuid.UUID, Shaped | OverBudget]:
        """A pull page's notes (up to SYNC_PULL_MAX_LIMIT) in one query, more only for large
        bodies within the budget (see _PULL_PAGE). On PostgreSQL: the ids as one binary array on
        a server-binding cursor, rows back in binary, built straight into NoteOutput's shape.
        Compiling and quoting `id IN (...)` of 500 UUIDs and parsing timestamps from text cost
        the ORM more CPU than the query (figures: docs/benchmarks.md)."""
        using = router.db_for_read(Note)
        if not db.is_postgresql(using):
            return self._fetch_shaped_portable(owner_id=owner_id, ids=ids, max_bytes=max_bytes)
        small = max_bytes // max(1, len(ids))
        with db.bound_cursor(using, binary=True) as cursor:
            cursor.execute(_PULL_PAGE, {"owner": owner_id, "ids": list(ids), "small": small})
            rows = {row[0]: row for row in cursor.fetchall()}
        kept, rest = _within(ids, {note_id: row[-1] for note_id, row in rows.items()}, max_bytes)
        withheld = [note_id for note_id in kept if rows[note_id][_BODY_AT] is None]
        bodies: dict[uuid.UUID, str] = {}
        if withheld:
            with db.bound_cursor(using, binary=True) as cursor:
                cursor.execute(_BODIES, {"owner": owner_id, "ids": withheld})
                bodies = dict(cursor.fetchall())
        shaped: dict[uuid.UUID, Shaped | OverBudget] = dict.fromkeys(rest, OVER_BUDGET)
        for note_id in kept:
            shape = dict(zip(_PULL_KEYS, rows[note_id][:-1], strict=True))
            if shape["body"] is None:
                shape["body"] = bodies[note_id]
            shape["tags"] = orjson.loads(shape["tags"])
            links = shape["files"].strip("{}")
            shape["files"] = [uuid.UUID(link) for link in links.split(",")] if links else []
            shaped[note_id] = Shaped(shape["version"], encode(shape))
        return shaped

    def _fetch_shaped_portable(
        self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID], max_bytes: int
    ) -> dict[uuid.UUID, Shaped | OverBudget]:
        """SQLite (`make run`): the same answer through the ORM."""
        notes = selectors.note_list(owner_id=owner_id).filter(id__in=ids)
        rows = selectors.note_files(list(selectors.note_rows(notes, columns=NOTE_ROW.model_columns)))
        by_id = {row["id"]: row for row in rows}
        sizes = {note_id: services.text_bytes(row["title"], row["body"]) for note_id, row in by_id.items()}
        kept, rest = _within(ids, sizes, max_bytes)
        shaped: dict[uuid.UUID, Shaped | OverBudget] = dict.fromkeys(rest, OVER_BUDGET)
        for note_id in kept:
            shaped[note_id] = Shaped(by_id[note_id]["version"], encode(NOTE_ROW(by_id[note_id])))
        return shaped

    def plain_create_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        return plain_note_fields(fields)

    def create_new(
        self, *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
    ) -> list[Any]:
        notes = services.notes_create_new(owner_id=owner_id, items=items)
        rows = ({**vars(note), "file_ids": []} for note in notes)  # a new note links no files
        # The same JSON text as NoteOutput's (datetimes with Z), as a push result stores it.
        return list(orjson.loads(orjson.dumps(NOTE_ROW.many(rows), option=OPTIONS)))

    def plain_update_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Plain fields of an edit that leaves the file links alone (links are checked against
        the library one by one)."""
        cleaned = plain_note_fields(fields)
        return None if cleaned is None or "files" in cleaned else cleaned

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        return services.note_apply(note=obj, fields=fields)  # locked and cleaned by upsert

    def lock_many(self, *, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return selectors.notes_for_update(ids=ids)

    def update_many(
        self, *, owner_id: uuid.UUID, changes: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[Any]:
        services.notes_update_many(owner_id=owner_id, changes=changes)
        rows = [{name: getattr(note, name) for name in NOTE_ROW.model_columns} for note, _ in changes]
        for row, (note, _) in zip(rows, changes, strict=True):
            if hasattr(note, "file_ids"):  # read with the lock (PostgreSQL)
                row["file_ids"] = note.file_ids
        rows = selectors.note_files(rows)
        return list(orjson.loads(orjson.dumps(NOTE_ROW.many(rows), option=OPTIONS)))

    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        return services.clean_fields(super().validate(fields=fields, partial=partial))

    def keep_losing_values(
        self, *, owner_id: uuid.UUID, obj: Any, losing: Mapping[str, Any]
    ) -> Mapping[str, Mapping[str, Any]]:
        if "title" not in losing and "body" not in losing:
            return {}
        revision = services.revision_create(
            note=obj,
            title=losing.get("title", obj.title),
            body=losing.get("body", obj.body),
            reason=NoteRevision.Reason.CONFLICT,
        )
        # The client links its user straight to the kept text (GET .../revisions/{number}).
        where = {"revision": revision.number}
        return {name: where for name in ("title", "body") if name in losing}
