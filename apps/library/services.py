"""Writes of the library's files: streamed uploads, the row of a stored file (also for direct
uploads, see uploads.py), metadata edits, deletes, the account purge, and bringing objects back
after a database restore. Viewer state is in
viewer/.

Order of work for a new file: inspect the bytes (type, safety, metadata, hashes; see
inspection.py) with no lock held; store the object; then one short transaction that takes the
owner's feed lock, re-checks dedup and quota against the primary, and inserts the row. Anything
that fails after the object was stored deletes it again. A crash in between leaves an orphan
object that `cleanup_uploads` removes (uploads.uploads_cleanup).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files import File as DjangoFile
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from apps.common import quota
from apps.common.errors import IdConflict, NotFound
from apps.common.versioning import require_version
from apps.sync.feed import objects_record, owner_write

from . import multipart, storage
from .errors import (
    FileTooLarge,
)
from .inspection import Inspection, inspect_file
from .models import (
    File,
    Upload,
    ViewerState,
)
from .naming import EXTENSIONS, sanitize_name

logger = logging.getLogger(__name__)


def write_db() -> str:
    return router.db_for_write(File)


def check_quota(owner_id: uuid.UUID, size: int, *, reserved: int = 0) -> None:
    """The one storage quota (apps/common/quota.py); `reserved`: bytes of this file that a
    direct upload already counts."""
    quota.check(user_id=owner_id, adding=size - reserved, what="file")


def check_size(size: int) -> None:
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise FileTooLarge(
            f"Files may be at most {settings.FILE_UPLOAD_MAX_BYTES} bytes.",
            extra={"max_bytes": settings.FILE_UPLOAD_MAX_BYTES},
        )


# --- creating files --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    file: File
    created: bool


def file_existing(
    *, owner_id: uuid.UUID, sha256: str, name: str, file_id: uuid.UUID | None
) -> FileResult | None:
    """The file this request already produced or the owner already has, or None.

    A client-chosen id that exists is the same request again only if it is the caller's live
    file with the same content and name; otherwise it is a conflict (ids are random UUIDs, so
    saying so reveals nothing). The same content under another id is the owner's existing file
    (dedup is per user: nobody learns whether another user has these bytes)."""
    if file_id is not None:
        taken = File.objects.filter(id=file_id).first()
        if taken is not None:
            if (
                taken.owner_id == owner_id
                and taken.deleted_at is None
                and taken.sha256 == sha256
                and taken.name == name
            ):
                return FileResult(taken, created=False)
            raise IdConflict()
    same = File.objects.filter(owner_id=owner_id, sha256=sha256, deleted_at__isnull=True).first()
    return FileResult(same, created=False) if same is not None else None


def file_record(
    *,
    owner_id: uuid.UUID,
    file_id: uuid.UUID | None,
    name: str,
    sha256: str,
    size: int,
    storage_key: str,
    inspection: Inspection,
    upload: Upload | None = None,
) -> FileResult:
    using = write_db()
    # The user's feed lock also serialises their quota checks (see apps/sync/feed.py).
    with owner_write(owner_id=owner_id):
        found = file_existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
        if found is None:
            check_quota(owner_id, size, reserved=upload.size if upload else 0)
            file = File(
                id=file_id or uuid.uuid4(),
                owner_id=owner_id,
                name=name,
                kind=inspection.detected.kind,
                content_type=inspection.detected.content_type,
                size=size,
                sha256=sha256,
                koreader_hash=inspection.koreader_hash,
                storage_key=storage_key,
                metadata=inspection.metadata,
                status=File.Status.METADATA_FAILED if inspection.metadata_error else File.Status.READY,
                tags=[],
            )
            file.stamp_new()
            try:
                with transaction.atomic(using=using):
                    file.save(force_insert=True, using=using)
            except IntegrityError:
                raise IdConflict() from None
            objects_record([file])
            found = FileResult(file, created=True)
        if upload is not None:
            upload.status = Upload.Status.COMPLETED
            upload.file = found.file
            upload.save(update_fields=["status", "file", "updated_at"])
    return found


def file_upload(
    *, owner_id: uuid.UUID, content: DjangoFile, sha256: str, name: str, file_id: uuid.UUID | None = None
) -> FileResult:
    """A streamed upload, already spooled to a temporary file (see streaming.py)."""
    size = int(content.size or 0)
    check_size(size)
    with open(content.temporary_file_path(), "rb") as stream:  # type: ignore[attr-defined]
        inspection = inspect_file(stream)
    name = sanitize_name(name, default_extension=EXTENSIONS[inspection.detected.content_type])
    found = file_existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
    if found is not None:
        return found
    check_quota(owner_id, size)
    key = storage.save(storage.new_key(owner_id), content, content_type=inspection.detected.content_type)
    try:
        result = file_record(
            owner_id=owner_id,
            file_id=file_id,
            name=name,
            sha256=sha256,
            size=size,
            storage_key=key,
            inspection=inspection,
        )
    except BaseException:
        storage.delete_quietly([key])
        raise
    if not result.created:
        storage.delete_quietly([key])
    return result


# --- editing and deleting --------------------------------------------------------------------


def file_locked(owner_id: uuid.UUID, file_id: uuid.UUID) -> File:
    """The caller's live file, row-locked (inside the owner's write); 404 otherwise."""
    file = (
        File.objects.select_for_update()
        .filter(id=file_id, owner_id=owner_id, deleted_at__isnull=True)
        .first()
    )
    if file is None:
        raise NotFound("No such file.")
    return file


def file_update(
    *, owner_id: uuid.UUID, file_id: uuid.UUID, fields: dict[str, Any], expected_version: int | None = None
) -> File:
    """Change a file's editable metadata (`name`, `tags`); the version grows if anything changed."""
    with owner_write(owner_id=owner_id):
        file = file_locked(owner_id, file_id)
        require_version(file.version, expected_version)
        if "name" in fields:
            fields["name"] = sanitize_name(
                fields["name"], default_extension=EXTENSIONS.get(file.content_type, "")
            )
        changed = [
            name for name in File.editable_fields if name in fields and getattr(file, name) != fields[name]
        ]
        if not changed:
            return file
        for name in changed:
            setattr(file, name, fields[name])
        file.save(update_fields=[*changed, *file.bump(changed)])
        objects_record([file])
    return file


def file_delete(*, owner_id: uuid.UUID, file_id: uuid.UUID, expected_version: int | None = None) -> None:
    """Tombstone the file (and its viewer state) and delete its object once that committed."""
    using = write_db()
    with owner_write(owner_id=owner_id):
        file = file_locked(owner_id, file_id)
        require_version(file.version, expected_version)
        now = timezone.now()
        file.save(update_fields=file.tombstone(now=now))
        state = (
            ViewerState.objects.select_for_update().filter(file_id=file.id, deleted_at__isnull=True).first()
        )
        if state is not None:
            state.save(update_fields=state.tombstone(now=now))
        objects_record([file, *([state] if state else [])])
        storage.delete_after_commit([file.storage_key, storage.cover_key(file.storage_key)], using=using)


@dataclass
class ObjectsRestoreReport:
    checked: int = 0  # live files whose object was looked for
    restored: int = 0  # objects brought back from a stored version
    missing: list[str] = field(default_factory=list)  # storage keys with no version left


def file_objects_restore(*, owner_id: uuid.UUID | None = None) -> ObjectsRestoreReport:
    """After the database was restored to an earlier time (docs/operations.md): bring back the
    objects of every file the database holds as live (or one owner's) that were deleted since,
    from the versions a versioned bucket keeps. Objects the database no longer knows are left
    to `cleanup_uploads`. Safe to run again: objects that are there are not touched."""
    report = ObjectsRestoreReport()
    files = File.objects.filter(deleted_at__isnull=True)
    prefix = storage.PREFIX
    if owner_id is not None:
        files = files.filter(owner_id=owner_id)
        prefix = storage.owner_prefix(owner_id)
    present = {key for key, _ in storage.list_objects(prefix)}
    for key in files.values_list("storage_key", flat=True).iterator():
        report.checked += 1
        if key in present:
            continue
        if storage.undelete(key):
            report.restored += 1
        else:
            report.missing.append(key)
    return report


def library_purge_user(*, user_id: uuid.UUID) -> int:
    """Delete every object of a user and abort their uploads in progress; returns the number
    of objects deleted. Rows go with the account (foreign keys cascade). Call it once the
    account deletion committed (`transaction.on_commit`): objects cannot be rolled back."""
    prefix = storage.owner_prefix(user_id)
    for key, s3_upload_id in list(storage.list_multipart_uploads(prefix)):
        multipart.multipart_abort(key, upload_id=s3_upload_id)
    keys = [key for key, _ in storage.list_objects(prefix)]
    storage.delete_objects(keys)
    return len(keys)
