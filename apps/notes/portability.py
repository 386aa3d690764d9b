"""The notes' part of an account archive (docs/export.md): notes with their file links, and their
revisions, out (records) and back in (an import into another account).

Export: `note_records` and `revision_records` read the owner's live notes (and the revisions of
live notes) in id order, a page at a time, inside the exporter's snapshot transaction. A note's
record is its API representation (NoteOutput) with `field_versions`; `files` are the ids of
the linked library files.

Import (two passes, see apps/todos/portability.py for the protocol): a note is validated with
the API's own rules (NoteWriteInput, the body's size) and may link only files of the same
archive; revisions belong to notes of the archive, numbered once per note. A note keeps at most
NOTE_REVISIONS_KEPT revisions, as on every write: an archive from a server that keeps more
brings in the newest ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import router
from rest_framework import serializers

from apps.common import db, records
from apps.common.errors import ValidationFailed
from apps.common.fields import StrictCharField, StrictUUIDField
from apps.sync.feed import objects_record

from . import selectors
from .api.serializers import NOTE_ROW, NoteWriteInput
from .models import EDITABLE_FIELDS, TITLE_MAX_LENGTH, Note, NoteRevision
from .services import check_body_size, text_bytes

PAGE = 200  # bodies are up to NOTE_BODY_MAX_BYTES each


# --- export ------------------------------------------------------------------------------------


def holds_data(*, owner_id: uuid.UUID) -> bool:
    """Whether the owner has any live note (an import goes into an empty account)."""
    return Note.objects.using(_write_db()).filter(owner_id=owner_id, deleted_at__isnull=True).exists()


def note_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    live = Note.objects.filter(owner_id=owner_id, deleted_at__isnull=True).order_by("id")
    columns = [*NOTE_ROW.model_columns, "field_versions"]
    after: uuid.UUID | None = None
    while True:
        page = live if after is None else live.filter(id__gt=after)
        rows = selectors.note_files(list(selectors.note_rows(page, columns=columns)[:PAGE]))
        for row in rows:
            yield {**NOTE_ROW(row), "field_versions": row["field_versions"]}
        if len(rows) < PAGE:
            return
        after = rows[-1]["id"]


def revision_records(*, owner_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    revisions = NoteRevision.objects.filter(note__owner_id=owner_id, note__deleted_at__isnull=True)
    columns = ("id", "note_id", "number", "title", "body", "note_version", "reason", "created_at")
    after = 0
    while True:
        rows = list(revisions.filter(id__gt=after).order_by("id").values(*columns)[:PAGE])
        for row in rows:
            yield {
                "note": row["note_id"],
                "number": row["number"],
                "title": row["title"],
                "body": row["body"],
                "note_version": row["note_version"],
                "reason": row["reason"],
                "created_at": row["created_at"],
            }
        if len(rows) < PAGE:
            return
        after = rows[-1]["id"]


# --- import ------------------------------------------------------------------------------------


class NoteRecord(records.SyncedRecord, NoteWriteInput):
    editable_fields = EDITABLE_FIELDS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        check_body_size(attrs["body"])
        if len(set(attrs["files"])) != len(attrs["files"]):
            raise serializers.ValidationError({"files": ["A file is linked twice."]})
        return attrs


class RevisionRecord(serializers.Serializer):
    note = StrictUUIDField()
    number = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    title = StrictCharField(max_length=TITLE_MAX_LENGTH, allow_blank=True, trim_whitespace=False)
    body = StrictCharField(allow_blank=True, trim_whitespace=False)
    note_version = serializers.IntegerField(min_value=1, max_value=records.MAX_VERSION, allow_null=True)
    reason = serializers.ChoiceField(choices=NoteRevision.Reason.choices)
    created_at = serializers.DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_body_size(attrs["body"])
        return attrs


def _write_db() -> str:
    return router.db_for_write(Note)


class NoteImport:
    """Notes; `ids["note"]` maps archive ids to new ones. `bytes` is the text they bring (the
    notes' part of the quota, revisions aside)."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.files = ids.setdefault("file", {})
        self.ids = ids.setdefault("note", {})
        self.bytes = 0

    def check(self, record: Any) -> None:
        values = records.validated(NoteRecord, record)
        unknown = [str(file_id) for file_id in values["files"] if file_id not in self.files]
        if unknown:
            raise ValidationFailed.field("files", f"No file of the archive has the id {unknown[0]}.")
        if values["id"] in self.ids:
            raise ValidationFailed.field("id", "Another record has this id.")
        self.ids[values["id"]] = uuid.uuid4()
        self.bytes += text_bytes(values["title"], values["body"])

    def finish(self) -> None:
        pass

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        notes, links = [], []
        for record in batch:
            values = records.validated(NoteRecord, record)
            note = Note(
                id=self.ids[values["id"]],
                owner_id=owner_id,
                title=values["title"],
                body=values["body"],
                tags=values["tags"],
                pinned=values["pinned"],
                archived=values["archived"],
            )
            notes.append(records.stamp(note, values))
            links += [
                Note.linked_files.through(note_id=note.id, file_id=self.files[file_id])
                for file_id in values["files"]
            ]
        using = _write_db()
        db.insert_rows(Note, notes, using=using, as_given=True)
        Note.linked_files.through.objects.using(using).bulk_create(links)
        objects_record(notes)
        return len(notes)


class RevisionImport:
    """Revisions of the archive's notes: each number once per note; the newest
    NOTE_REVISIONS_KEPT of a note are kept."""

    def __init__(self, ids: dict[str, dict[uuid.UUID, uuid.UUID]]) -> None:
        self.notes = ids.setdefault("note", {})
        self.numbers: dict[uuid.UUID, set[int]] = {}
        # The lowest number kept per note (set by finish, for notes with too many revisions).
        self.lowest: dict[uuid.UUID, int] = {}

    def check(self, record: Any) -> None:
        values = records.validated(RevisionRecord, record)
        if values["note"] not in self.notes:
            raise ValidationFailed.field("note", "No note of the archive has this id.")
        numbers = self.numbers.setdefault(values["note"], set())
        if values["number"] in numbers:
            raise ValidationFailed.field("number", "The note has another revision with this number.")
        numbers.add(values["number"])

    def finish(self) -> None:
        kept = settings.NOTE_REVISIONS_KEPT
        self.lowest = {
            note: sorted(numbers)[-kept] for note, numbers in self.numbers.items() if len(numbers) > kept
        }
        self.numbers.clear()

    def write(self, *, owner_id: uuid.UUID, batch: list[Any]) -> int:
        revisions = []
        for record in batch:
            values = records.validated(RevisionRecord, record)
            if values["number"] < self.lowest.get(values["note"], 0):
                continue
            revisions.append(
                NoteRevision(
                    note_id=self.notes[values["note"]],
                    number=values["number"],
                    title=values["title"],
                    body=values["body"],
                    note_version=values["note_version"],
                    reason=values["reason"],
                    created_at=values["created_at"],
                )
            )
        db.insert_rows(NoteRevision, revisions, using=_write_db(), as_given=True)
        return len(revisions)
