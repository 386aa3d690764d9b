"""Reading and writing KOReader progress records (last write wins, as the protocol says), and
handing each write to the library's viewer state when the document is one of the user's files.

A record's `percentage` is the library's progress for KOReader's position when the document is
one of the user's files (for a PDF, page / page_count without KOReader's float noise: 29 of 100
pages is 0.29, where KOReader sends 0.2899), otherwise what KOReader sent; either way at most 4
decimals, KOReader's own precision (docs/api.md, "Progress")."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from ..models import KosyncProgress
from ..viewer.positions import library_progress, record_position
from ..viewer.validation import progress_round


def progress_put(
    *,
    owner_id: uuid.UUID,
    document: str,
    progress: str,
    percentage: float,
    device: str,
    device_id: str | None,
) -> int:
    now = timezone.now()
    timestamp = int(now.timestamp())
    with transaction.atomic(using=router.db_for_write(KosyncProgress)):
        library = record_position(
            owner_id=owner_id,
            document=document,
            progress=progress,
            percentage=percentage,
            device=device,
            device_id=device_id or "",
            when=now,
        )
        defaults: dict[str, Any] = {
            "progress": progress,
            "percentage": progress_round(percentage) if library is None else library,
            "device": device,
            "timestamp": timestamp,
        }
        if device_id:  # like the reference server: a push without device_id keeps the old one
            defaults["device_id"] = device_id
        KosyncProgress.objects.update_or_create(owner_id=owner_id, document=document, defaults=defaults)
    return timestamp


def progress_get(*, owner_id: uuid.UUID, document: str) -> dict[str, Any]:
    """KOReader's last record for the document, or the library's current position of the same
    file when another client moved it since (positions.library_progress)."""
    record = KosyncProgress.objects.filter(owner_id=owner_id, document=document).first()
    newer = library_progress(owner_id=owner_id, document=document, after=record.timestamp if record else None)
    if newer is not None:
        return {"document": document, **newer}
    if record is None:
        return {}
    body: dict[str, Any] = {
        "document": record.document,
        "percentage": record.percentage,
        "progress": record.progress,
        "device": record.device,
        "timestamp": record.timestamp,
    }
    if record.device_id:
        body["device_id"] = record.device_id
    return body
