"""Reads of the library. Everything is scoped to an owner: another user's object is simply not
found (404), never forbidden. Tombstones (`deleted_at`) are hidden here, not by the managers."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.common.errors import NotFound

from . import multipart, storage
from .models import File, Upload

UPLOAD_OPEN_STATUSES = (Upload.Status.PENDING, Upload.Status.COMPLETING)


def file_list(*, owner_id: uuid.UUID) -> QuerySet[File]:
    """The owner's live files, each with `last_opened` (last viewer-state write) and
    `progress` (0..1, from the viewer state) in one query."""
    return File.objects.filter(owner_id=owner_id, deleted_at__isnull=True).annotate(
        last_opened=F("viewer_state__updated_at"), progress=F("viewer_state__progress")
    )


def file_get(*, owner_id: uuid.UUID, file_id: uuid.UUID) -> File:
    file = file_list(owner_id=owner_id).filter(id=file_id).first()
    if file is None:
        raise NotFound("No such file.")
    return file


def file_by_koreader_hash(*, owner_id: uuid.UUID, document: str) -> File | None:
    """For the kosync adapter: the owner's live file with this KOReader document id."""
    return (
        File.objects.filter(owner_id=owner_id, koreader_hash=document.lower(), deleted_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


def live_file_ids(*, owner_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `ids` are the owner's live files (for links from other apps)."""
    return set(
        File.objects.filter(owner_id=owner_id, id__in=list(ids), deleted_at__isnull=True).values_list(
            "id", flat=True
        )
    )


def file_links() -> QuerySet[File]:
    """The least of a file that a link to it needs (prefetching notes' links)."""
    return File.objects.only("id", "deleted_at")


def file_storage_usage(*, user_id: uuid.UUID) -> int:
    """The library's part of the storage quota (apps/common/quota.py): live files plus the
    declared size of direct uploads in progress (an upload reserves its space when it starts)."""
    uploads = (
        Upload.objects.filter(owner_id=user_id, status__in=UPLOAD_OPEN_STATUSES)
        .values("owner_id")
        .annotate(total=Sum("size"))
        .values("total")
    )
    # One query: the hot paths (a push of new notes) check the quota on every write.
    usage = File.objects.filter(owner_id=user_id, deleted_at__isnull=True).aggregate(
        total=Coalesce(Sum("size"), 0) + Coalesce(Subquery(uploads), 0)
    )
    return int(usage["total"])


def upload_list(*, owner_id: uuid.UUID) -> QuerySet[Upload]:
    return Upload.objects.filter(owner_id=owner_id, status=Upload.Status.PENDING).order_by(
        "-created_at", "-id"
    )


def upload_get(*, owner_id: uuid.UUID, upload_id: uuid.UUID) -> Upload:
    upload = Upload.objects.filter(id=upload_id, owner_id=owner_id).select_related("file").first()
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def part_size_for(size: int) -> int:
    """The server's part size: the configured one, grown (in whole MiB) when S3's 10,000-part
    limit requires it."""
    mib = 1024 * 1024
    needed = math.ceil(size / 10_000)
    return max(settings.DIRECT_UPLOAD_PART_BYTES, math.ceil(needed / mib) * mib)


def part_expected_size(upload: Upload, number: int) -> int:
    if number < upload.part_count:
        return int(upload.part_size)
    return int(upload.size - upload.part_size * (upload.part_count - 1))


def current_parts(upload: Upload, parts: list[multipart.Part]) -> dict[int, multipart.Part]:
    """One part per number: the newest; between parts listed with the same (second-precision)
    time, the one of the expected size, since sending a part again is how a client fixes it."""
    chosen: dict[int, multipart.Part] = {}
    for part in parts:
        if not 1 <= part.number <= upload.part_count:
            continue
        rank = (
            part.modified or datetime.min.replace(tzinfo=UTC),
            part.size == part_expected_size(upload, part.number),
        )
        seen = chosen.get(part.number)
        if seen is None or rank >= (
            seen.modified or datetime.min.replace(tzinfo=UTC),
            seen.size == part_expected_size(upload, seen.number),
        ):
            chosen[part.number] = part
    return chosen


@dataclass(frozen=True)
class UploadProgress:
    upload: Upload
    parts: list[multipart.Part]
    missing: list[int]
    part_urls: list[dict[str, Any]]
    urls_expire_at: datetime | None


def upload_progress(*, upload: Upload, list_uploaded: bool = True) -> UploadProgress:
    """What S3 has of a pending upload and fresh presigned URLs for the parts still missing
    (the resume step). Finished uploads have neither."""
    if upload.status != Upload.Status.PENDING:
        return UploadProgress(upload, [], [], [], None)
    parts: list[multipart.Part] = []
    if list_uploaded:
        try:
            listed = multipart.list_parts(upload.storage_key, upload_id=upload.s3_upload_id)
        except multipart.UploadGone:
            listed = []
        parts = [part for _, part in sorted(current_parts(upload, listed).items())]
    have = {part.number for part in parts if part.size == part_expected_size(upload, part.number)}
    missing = [n for n in range(1, upload.part_count + 1) if n not in have]
    expires = min(settings.DIRECT_UPLOAD_URL_EXPIRE_SECONDS, storage.MAX_PART_URL_SECONDS)
    urls = [
        {
            "number": n,
            "size": part_expected_size(upload, n),
            "url": multipart.presign_part(
                upload.storage_key,
                upload_id=upload.s3_upload_id,
                number=n,
                size=part_expected_size(upload, n),
                expires=expires,
            ),
        }
        for n in missing
    ]
    return UploadProgress(upload, parts, missing, urls, timezone.now() + timedelta(seconds=expires))
