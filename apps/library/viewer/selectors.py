"""Reads of viewer state: the document PUT and GET /v1/files/{file_id}/viewer-state exchange,
and the current position with the server time it was recorded (for kosync)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings

from .. import selectors as library_selectors
from ..models import File, ViewerState, ViewerStateEntry
from .validation import POSITION_KEYS


def current_viewer_state(*, file: File) -> tuple[ViewerState, datetime] | None:
    """The file's viewer state, if any client ever wrote one, with the server time its current
    position was recorded (the newest applied history entry; the state's own time once history
    was trimmed past it)."""
    state = ViewerState.objects.filter(file=file, deleted_at__isnull=True).first()
    if state is None:
        return None
    recorded = (
        ViewerStateEntry.objects.filter(viewer_state=state, applied=True)
        .order_by("-version")
        .values_list("recorded_at", flat=True)
        .first()
    )
    return state, recorded or state.updated_at


def _entry(kind: str, row: Any, **rest: Any) -> dict[str, Any]:
    """A position as the API shows it, from anything that records one (the viewer state's
    current position, a device's latest, a history entry)."""
    return {
        "device": {"id": row.device_id, "name": row.device_name},
        POSITION_KEYS[kind]: row.position,
        "modified": row.modified,
        "intent": row.intent,
        "progress": row.progress,
        **rest,
    }


def current_position(state: ViewerState) -> dict[str, Any]:
    """The current position of a viewer state, as the API shows it."""
    return _entry(state.kind, state)


def viewer_state_document(*, file: File, state: ViewerState | None) -> dict[str, Any]:
    """The viewer-state resource: current position, latest per device, recent history."""
    if state is None or state.deleted_at is not None:
        return {
            "file": file.id,
            "kind": file.kind,
            "current": None,
            "devices": [],
            "history": [],
            "version": 0,
            "updated_at": None,
        }
    kept = settings.VIEWER_STATE_HISTORY_KEPT
    return document_of(
        state,
        devices=state.devices.order_by("-recorded_at", "-id"),
        history=state.history.order_by("-version")[:kept],
    )


def document_of(state: ViewerState, *, devices: Iterable[Any], history: Iterable[Any]) -> dict[str, Any]:
    """The resource of a stored viewer state from its device positions (newest first) and its
    history entries (newest first), however they were read."""
    return {
        "file": state.file_id,
        "kind": state.kind,
        "current": current_position(state),
        "devices": [_entry(state.kind, d, recorded_at=d.recorded_at) for d in devices],
        "history": [
            _entry(
                state.kind,
                h,
                recorded_at=h.recorded_at,
                version=h.version,
                applied=h.applied,
                reason=h.reason or None,
            )
            for h in history
        ],
        "version": state.version,
        "updated_at": state.updated_at,
    }


def viewer_state_get(*, owner_id: uuid.UUID, file_id: uuid.UUID) -> dict[str, Any]:
    file = library_selectors.file_get(owner_id=owner_id, file_id=file_id)
    state = ViewerState.objects.filter(file_id=file.id, deleted_at__isnull=True).first()
    return viewer_state_document(file=file, state=state)
