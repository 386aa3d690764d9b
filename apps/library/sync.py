"""Library files and viewer states in the sync feed.

- `file`: metadata only (name, tags). A file is created by uploading its bytes (POST /v1/files
  or a direct upload), never by a push: an upsert of an unknown file id is rejected; edits merge
  per field like any object; deletes remove the object from storage too.
- `viewer_state`: known in the feed by its **file's id** (one per user and file). A push carries
  what PUT /v1/files/{id}/viewer-state takes and follows the same rules: older than the stored
  position → `conflict` (with the current state); backwards without `intent: jump` → `applied`
  with `applied: false, reason: "regression"` (kept as that device's position). Viewer states
  are not deleted by clients; they go with their file.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from apps.common.errors import ErrorCode
from apps.sync.registry import FieldMergedType, OpStatus, Outcome, Rejected, SyncType

from . import selectors, services
from .api.serializers import FileOutput, FileUpdateInput, ViewerStateInput, ViewerStateSyncOutput
from .errors import StaleViewerState
from .models import File, ViewerState
from .viewer import selectors as viewer_selectors
from .viewer import services as viewer_services


class FileSync(FieldMergedType):
    model = File
    output_serializer = FileOutput
    input_serializer = FileUpdateInput
    updater = services.file_update
    deleter = services.file_delete
    lister = selectors.file_list

    def create(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, fields: Mapping[str, Any]) -> Any:
        # There is no creator: a file's bytes come first.
        raise Rejected(
            "Files are created by uploading them (POST /v1/files or /v1/files/uploads).",
            code=ErrorCode.UPLOAD_REQUIRED,
        )


class ViewerStateSync(SyncType):
    """Not merged per field: a push is a whole position document, reconciled by the same rules
    as PUT /v1/files/{file_id}/viewer-state (so its `fields` are that body, not a patch)."""

    model = ViewerState
    output_serializer = ViewerStateSyncOutput
    input_serializer = ViewerStateInput
    fields_serializer = ViewerStateInput
    fields_component = "ViewerStateInputRequest"

    def fetch(self, *, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        states = ViewerState.objects.filter(owner_id=owner_id, file_id__in=ids).select_related("file")
        return {state.file_id: state for state in states}

    def serialize(self, objs: Sequence[Any]) -> list[dict[str, Any]]:
        rows = []
        for state in objs:
            document = viewer_selectors.viewer_state_document(file=state.file, state=None)
            document["current"] = viewer_selectors.current_position(state)
            document.update(version=state.version, updated_at=state.updated_at)
            rows.append(document)
        return list(ViewerStateSyncOutput(rows, many=True).data)

    def upsert(
        self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int, fields: Mapping[str, Any]
    ) -> Outcome:
        values = self.validate(fields=fields, partial=False)
        try:
            result = viewer_services.viewer_state_put_body(owner_id=owner_id, file_id=obj_id, body=values)
        except StaleViewerState as exc:
            state = ViewerState.objects.select_related("file").get(file_id=obj_id)
            return Outcome(
                OpStatus.CONFLICT,
                obj=state,
                version=state.version,
                conflicts=[
                    {
                        "field": "current",
                        "reason": "stale",
                        "server": exc.extra["current"]["current"],
                        "client": dict(fields),
                    }
                ],
            )
        state = ViewerState.objects.select_related("file").get(file_id=obj_id)
        return Outcome(
            OpStatus.APPLIED,
            obj=state,
            version=state.version,
            extra={"applied": result.applied, "reason": result.reason},
        )

    def remove(self, *, owner_id: uuid.UUID, obj_id: uuid.UUID, base_version: int) -> Outcome:
        raise Rejected("Viewer states are deleted with their file.", code=ErrorCode.UNSUPPORTED_OPERATION)
