"""Notes in the sync feed: reads and writes go through this app's serializers and services, so
a pushed note meets exactly the REST API's rules. A body or title that loses a conflict is kept
as a revision of the note (reason `conflict`), so no edit is ever lost."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from apps.common.renderers import OPTIONS
from apps.sync.registry import SyncType

from . import selectors, services
from .api.serializers import NoteOutput, NoteWriteInput, note_output, plain_note_fields
from .models import EDITABLE_FIELDS, Note, NoteRevision


class NoteSync(SyncType):
    name = services.SYNC_TYPE
    model = Note
    editable_fields = EDITABLE_FIELDS
    output_serializer = NoteOutput
    fields_serializer = NoteWriteInput(partial=True)
    output_component = "NoteOutput"
    fields_component = "PatchedNoteWriteInputRequest"

    def fetch(self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return {note.id: note for note in selectors.note_list(owner_id=owner_id).filter(id__in=ids)}

    def fetch_shaped(
        self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, Any]]:
        rows = selectors.note_files(
            list(selectors.note_rows(selectors.note_list(owner_id=owner_id).filter(id__in=ids)))
        )
        return {row["id"]: (row["version"], note_output(row)) for row in rows}

    def plain_create_fields(self, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        return plain_note_fields(fields)

    def create_new(
        self, *, owner_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
    ) -> list[Any]:
        rows = services.notes_create_new(owner_id=owner_id, items=items)
        # The same JSON text as NoteOutput's (datetimes with Z), as a push result stores it.
        return list(orjson.loads(orjson.dumps([note_output(row) for row in rows], option=OPTIONS)))

    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        return list(NoteOutput(objs, many=True).data)

    def validate(self, *, fields: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        data = NoteWriteInput(data=dict(fields), partial=partial)
        data.is_valid(raise_exception=True)
        return services.clean_fields(data.validated_data)

    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        note, _created = services.note_create(owner_id=owner_id, fields=fields, note_id=obj_id)
        return note

    def update(self, *, owner_id: uuid.UUID, obj: Any, fields: Mapping[str, Any]) -> Any:
        return services.note_update(note_id=obj.id, owner_id=owner_id, fields=fields)

    def delete(self, *, owner_id: uuid.UUID, obj: Any) -> Any:
        services.note_delete(note_id=obj.id, owner_id=owner_id)
        return Note.objects.get(id=obj.id)

    def keep_losing_values(self, *, owner_id: uuid.UUID, obj: Any, losing: Mapping[str, Any]) -> None:
        if "title" in losing or "body" in losing:
            services.revision_create(
                note=obj,
                title=losing.get("title", obj.title),
                body=losing.get("body", obj.body),
                reason=NoteRevision.Reason.CONFLICT,
            )
