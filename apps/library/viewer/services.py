"""Writes of viewer state: where a user is in a file, per device, with the rule that a position
never silently jumps back (docs/library.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.common.versioning import require_version
from apps.sync.feed import objects_record, owner_write

from .. import services as file_services
from ..errors import (
    StaleViewerState,
)
from ..models import (
    DEVICE_ID_MAX_LENGTH,
    Intent,
    ViewerDevicePosition,
    ViewerState,
    ViewerStateEntry,
)
from . import selectors
from . import validation as viewer

# A device list is for "where was I on my other devices", not an audit log.
DEVICES_KEPT = 50
# Client clocks may run a little ahead; further ahead would block every other device's writes.
MAX_CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class ViewerStateResult:
    document: dict[str, Any]
    applied: bool
    reason: str | None


def viewer_state_put_body(
    *, owner_id: uuid.UUID, file_id: uuid.UUID, body: Mapping[str, Any], expected_version: int | None = None
) -> ViewerStateResult:
    """`viewer_state_put` from the body PUT /v1/files/{file_id}/viewer-state and a sync push
    send, as ViewerStateInput validated it."""
    return viewer_state_put(
        owner_id=owner_id,
        file_id=file_id,
        device_id=body["device"]["id"],
        device_name=body["device"].get("name", ""),
        modified=body["modified"],
        intent=body["intent"],
        position_key=body["position_key"],
        position=body["position"],
        expected_version=expected_version,
    )


def viewer_state_put(
    *,
    owner_id: uuid.UUID,
    file_id: uuid.UUID,
    device_id: str,
    device_name: str,
    modified: datetime,
    intent: str,
    position_key: str,
    position: Any,
    expected_version: int | None = None,
) -> ViewerStateResult:
    """Record a device's position and move the current one by the rules (DESIGN §3):
    an older `modified` than what is stored is refused (409 with the current state); progress
    going backwards without `intent: jump` is kept as that device's position only."""
    if not device_id or len(device_id) > DEVICE_ID_MAX_LENGTH or len(device_name) > DEVICE_ID_MAX_LENGTH:
        raise viewer.invalid(
            {"device": [f"An id of 1 to {DEVICE_ID_MAX_LENGTH} characters, a name of at most as many."]}
        )
    modified = modified.astimezone(UTC)
    if modified > timezone.now() + MAX_CLOCK_SKEW:
        raise viewer.invalid({"modified": ["Is ahead of the server clock; check the device's time."]})
    using = file_services.write_db()
    with owner_write(owner_id=owner_id):
        file = file_services.file_locked(owner_id, file_id)
        expected_key = viewer.POSITION_KEYS[file.kind]
        if position_key != expected_key:
            raise viewer.invalid(
                {position_key: [f"This file is a {file.kind}: send its position as `{expected_key}`."]}
            )
        position = viewer.validate_position(file.kind, position, metadata=file.metadata)
        progress = viewer.progress_of(file.kind, position, file.metadata)
        state = ViewerState.objects.filter(file_id=file.id, deleted_at__isnull=True).first()
        require_version(state.version if state else 0, expected_version)
        device = state.devices.filter(device_id=device_id).first() if state else None
        applied, reason = True, None
        if state is not None:
            if modified < state.modified or (device is not None and modified < device.modified):
                raise StaleViewerState(
                    "A newer position is already stored.",
                    current=selectors.viewer_state_document(file=file, state=state),
                )
            if modified == state.modified:
                if (state.device_id, state.position, state.intent) == (device_id, position, intent):
                    # The same write again (a retry after a lost response): nothing changes.
                    return ViewerStateResult(
                        selectors.viewer_state_document(file=file, state=state), True, None
                    )
                raise StaleViewerState(
                    "A position with the same time is already stored.",
                    current=selectors.viewer_state_document(file=file, state=state),
                )
            if intent != Intent.JUMP and viewer.is_regression(progress, state.progress):
                applied, reason = False, ViewerStateEntry.Reason.REGRESSION.value
        now = timezone.now()
        current = {
            "position": position,
            "device_id": device_id,
            "device_name": device_name,
            "modified": modified,
            "intent": intent,
            "progress": progress,
        }
        if state is None:
            state = ViewerState(owner_id=owner_id, file=file, kind=file.kind, **current)
            state.stamp_new()
            state.save(force_insert=True, using=using)
        else:
            # Every accepted write records this device's position; only an applied one moves
            # the current position too.
            updated = list(state.bump(["current", "devices"] if applied else ["devices"], now=now))
            if applied:
                for name, value in current.items():
                    setattr(state, name, value)
                updated += list(current)
            state.save(update_fields=updated)
        ViewerDevicePosition.objects.update_or_create(
            viewer_state=state,
            device_id=device_id,
            defaults={
                "device_name": device_name,
                "position": position,
                "modified": modified,
                "intent": intent,
                "progress": progress,
                "recorded_at": now,
            },
        )
        ViewerStateEntry.objects.create(
            viewer_state=state,
            version=state.version,
            device_id=device_id,
            device_name=device_name,
            position=position,
            modified=modified,
            intent=intent,
            progress=progress,
            applied=applied,
            reason=reason or "",
            recorded_at=now,
        )
        state.history.filter(version__lte=state.version - settings.VIEWER_STATE_HISTORY_KEPT).delete()
        stale_devices = state.devices.order_by("-recorded_at", "-id").values_list("id", flat=True)[
            DEVICES_KEPT:
        ]
        if stale_devices:
            ViewerDevicePosition.objects.filter(id__in=list(stale_devices)).delete()
        objects_record([state])
        return ViewerStateResult(selectors.viewer_state_document(file=file, state=state), applied, reason)
