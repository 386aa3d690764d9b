"""Writes of the library: files (streamed or direct uploads), metadata edits, deletes, upload
cleanup, account purge and viewer state.

Order of work for a new file: inspect the bytes (type, safety, metadata, hashes; see
inspection.py) with no lock held; store the object; then one short transaction that takes the
owner's feed lock, re-checks dedup and quota against the primary, and inserts the row. Anything
that fails after the object was stored deletes it again. A crash in between leaves an orphan
object that `cleanup_uploads` removes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File as DjangoFile
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from apps.common import quota
from apps.common.errors import IdConflict, NotFound
from apps.common.versioning import require_version
from apps.sync.feed import objects_record, owner_write

from . import selectors, sniffing, storage, viewer
from .errors import (
    FileTooLarge,
    StaleViewerState,
    UnsupportedFileType,
    UploadIncomplete,
    UploadNotPending,
)
from .inspection import Inspection, inspect_file, inspect_object
from .models import (
    DEVICE_ID_MAX_LENGTH,
    File,
    Intent,
    Upload,
    ViewerDevicePosition,
    ViewerState,
    ViewerStateEntry,
)
from .naming import EXTENSIONS, sanitize_name

logger = logging.getLogger(__name__)

# A device list is for "where was I on my other devices", not an audit log.
DEVICES_KEPT = 50
# Client clocks may run a little ahead; further ahead would block every other device's writes.
MAX_CLOCK_SKEW = timedelta(minutes=10)


def _db() -> str:
    return router.db_for_write(File)


def _check_quota(owner_id: uuid.UUID, size: int, *, reserved: int = 0) -> None:
    """The one storage quota (apps/common/quota.py); `reserved`: bytes of this file that a
    direct upload already counts."""
    quota.check(user_id=owner_id, adding=size - reserved, what="file")


def _check_size(size: int) -> None:
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


def _existing(*, owner_id: uuid.UUID, sha256: str, name: str, file_id: uuid.UUID | None) -> FileResult | None:
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


def _file_create(
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
    using = _db()
    # The user's feed lock also serialises their quota checks (see apps/sync/feed.py).
    with owner_write(owner_id=owner_id):
        found = _existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
        if found is None:
            _check_quota(owner_id, size, reserved=upload.size if upload else 0)
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
    _check_size(size)
    with open(content.temporary_file_path(), "rb") as stream:  # type: ignore[attr-defined]
        inspection = inspect_file(stream)
    name = sanitize_name(name, default_extension=EXTENSIONS[inspection.detected.content_type])
    found = _existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
    if found is not None:
        return found
    _check_quota(owner_id, size)
    key = storage.save(storage.new_key(owner_id), content, content_type=inspection.detected.content_type)
    try:
        result = _file_create(
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


def _locked_file(owner_id: uuid.UUID, file_id: uuid.UUID) -> File:
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
        file = _locked_file(owner_id, file_id)
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
    using = _db()
    with owner_write(owner_id=owner_id):
        file = _locked_file(owner_id, file_id)
        require_version(file.version, expected_version)
        now = timezone.now()
        file.save(update_fields=file.tombstone(now=now))
        state = (
            ViewerState.objects.select_for_update().filter(file_id=file.id, deleted_at__isnull=True).first()
        )
        if state is not None:
            state.save(update_fields=state.tombstone(now=now))
        objects_record([file, *([state] if state else [])])
        storage.delete_after_commit([file.storage_key], using=using)


# --- direct uploads --------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadStart:
    """Either the owner already has the bytes (`file`) or an upload was opened (`upload`)."""

    file: File | None = None
    upload: Upload | None = None


def upload_initiate(
    *,
    owner_id: uuid.UUID,
    name: str,
    size: int,
    sha256: str,
    content_type: str,
    file_id: uuid.UUID | None = None,
) -> UploadStart:
    storage.s3()  # 501 before anything else when storage is local
    _check_size(size)
    if content_type not in sniffing.ALLOWED_CONTENT_TYPES:
        raise UnsupportedFileType(
            f"{content_type!r} is not accepted: send a PDF, EPUB, PNG, JPEG, WebP or GIF.",
            reason="declared_type",
        )
    sha256 = sha256.lower()
    name = sanitize_name(name, default_extension=EXTENSIONS[content_type])
    found = _existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
    if found is not None:
        return UploadStart(file=found.file)
    _check_quota(owner_id, size)
    part_size = selectors.part_size_for(size)
    key = storage.new_key(owner_id)
    s3_upload_id = storage.multipart_create(key, content_type=content_type)
    try:
        with owner_write(owner_id=owner_id):
            _check_quota(owner_id, size)
            upload = Upload.objects.create(
                owner_id=owner_id,
                new_file_id=file_id or uuid.uuid4(),
                name=name,
                size=size,
                sha256=sha256,
                declared_type=content_type,
                storage_key=key,
                s3_upload_id=s3_upload_id,
                part_size=part_size,
                part_count=max(1, -(-size // part_size)),
            )
    except BaseException:
        storage.multipart_abort(key, upload_id=s3_upload_id)
        raise
    return UploadStart(upload=upload)


def _claim(owner_id: uuid.UUID, upload_id: uuid.UUID) -> Upload | FileResult:
    """Move a pending upload to `completing` (so a second `complete` cannot race it), or return
    the file of an upload that already completed (a retried `complete` is idempotent)."""
    with transaction.atomic(using=_db()):
        upload = Upload.objects.select_for_update().filter(id=upload_id, owner_id=owner_id).first()
        if upload is None:
            raise NotFound("No such upload.")
        if upload.status == Upload.Status.COMPLETED and upload.file_id is not None:
            file = selectors.file_list(owner_id=owner_id).filter(id=upload.file_id).first()
            if file is not None:
                return FileResult(file, created=False)
        if upload.status != Upload.Status.PENDING:
            raise UploadNotPending(f"This upload is {upload.status}.", extra={"upload_status": upload.status})
        upload.status = Upload.Status.COMPLETING
        upload.save(update_fields=["status", "updated_at"])
    return upload


def _set_status(upload: Upload, status: str, error: str = "") -> None:
    upload.status = status
    upload.error = error[:200]
    upload.save(update_fields=["status", "error", "updated_at"])


def upload_complete(*, owner_id: uuid.UUID, upload_id: uuid.UUID) -> FileResult:
    """Verify what the client put in S3 (every part there at the right size, then the whole
    object's size, type and SHA-256) and create the file."""
    claimed = _claim(owner_id, upload_id)
    if isinstance(claimed, FileResult):
        return claimed
    upload = claimed
    key = upload.storage_key
    try:
        by_number = selectors.current_parts(upload, storage.list_parts(key, upload_id=upload.s3_upload_id))
        missing = [n for n in range(1, upload.part_count + 1) if n not in by_number]
        wrong = [
            n
            for n in range(1, upload.part_count + 1)
            if n in by_number and by_number[n].size != selectors.part_expected_size(upload, n)
        ]
        if missing or wrong:
            raise UploadIncomplete(
                "Some parts are missing or have the wrong size; upload them and complete again.",
                extra={"missing_parts": missing, "wrong_size_parts": wrong},
            )
        storage.multipart_complete(
            key, upload_id=upload.s3_upload_id, parts=[by_number[n] for n in range(1, upload.part_count + 1)]
        )
    except storage.UploadGone:
        _set_status(upload, Upload.Status.ABORTED, "gone from storage")
        raise UploadNotPending("The upload expired or was aborted; start a new one.") from None
    except BaseException:
        _set_status(upload, Upload.Status.PENDING)  # nothing was assembled: the client may go on
        raise
    try:
        result = _verify_and_create(upload)
    except BaseException as exc:
        storage.delete_quietly([key])
        _set_status(upload, Upload.Status.FAILED, getattr(exc, "code", exc.__class__.__name__))
        raise
    if not result.created:
        storage.delete_quietly([key])
    return result


def _verify_and_create(upload: Upload) -> FileResult:
    """Size, type, SHA-256, then the inspection, read from S3 without a local copy (see
    inspection.py)."""
    inspection = inspect_object(upload.storage_key, size=upload.size, sha256=upload.sha256)
    return _file_create(
        owner_id=upload.owner_id,
        file_id=upload.new_file_id,
        name=upload.name,
        sha256=upload.sha256,
        size=upload.size,
        storage_key=upload.storage_key,
        inspection=inspection,
        upload=upload,
    )


def upload_abort(*, owner_id: uuid.UUID, upload_id: uuid.UUID) -> None:
    """Abort a pending upload (S3 drops its parts). Aborting twice is fine; a completed upload
    cannot be aborted (delete the file instead)."""
    with transaction.atomic(using=_db()):
        upload = Upload.objects.select_for_update().filter(id=upload_id, owner_id=owner_id).first()
        if upload is None:
            raise NotFound("No such upload.")
        if upload.status in (Upload.Status.ABORTED, Upload.Status.FAILED):
            return
        if upload.status != Upload.Status.PENDING:
            raise UploadNotPending(f"This upload is {upload.status}.", extra={"upload_status": upload.status})
        _set_status(upload, Upload.Status.ABORTED)
        key, s3_upload_id = upload.storage_key, upload.s3_upload_id
    storage.multipart_abort(key, upload_id=s3_upload_id)


@dataclass
class CleanupReport:
    uploads_aborted: int = 0
    upload_rows_removed: int = 0
    orphans_deleted: int = 0
    multipart_aborted: int = 0
    errors: list[str] = field(default_factory=list)


def uploads_cleanup(*, older_than: timedelta, user_id: uuid.UUID | None = None) -> CleanupReport:
    """Abort and forget uploads started before `older_than` ago, and delete objects under
    users/ (or one user's prefix) that no live file or open upload owns and that are older
    than that too (so an upload being stored right now is never touched)."""
    report = CleanupReport()
    cutoff = timezone.now() - older_than
    stale = Upload.objects.filter(created_at__lt=cutoff)
    if user_id is not None:
        stale = stale.filter(owner_id=user_id)
    for upload in stale.iterator():
        if upload.status in selectors.UPLOAD_OPEN_STATUSES:
            try:
                storage.multipart_abort(upload.storage_key, upload_id=upload.s3_upload_id)
                report.uploads_aborted += 1
            except storage.STORAGE_ERRORS as exc:
                report.errors.append(f"abort {upload.id}: {exc}")
                continue
        upload.delete()
        report.upload_rows_removed += 1

    prefix = storage.owner_prefix(user_id) if user_id else storage.PREFIX
    open_uploads = Upload.objects.filter(status__in=selectors.UPLOAD_OPEN_STATUSES)
    known_multipart = set(open_uploads.values_list("s3_upload_id", flat=True))
    for key, s3_upload_id in list(storage.list_multipart_uploads(prefix)):
        if s3_upload_id not in known_multipart:
            storage.multipart_abort(key, upload_id=s3_upload_id)
            report.multipart_aborted += 1

    batch: list[str] = []

    def flush() -> None:
        keep = set(
            File.objects.filter(storage_key__in=batch, deleted_at__isnull=True).values_list(
                "storage_key", flat=True
            )
        )
        keep |= set(open_uploads.filter(storage_key__in=batch).values_list("storage_key", flat=True))
        orphans = [key for key in batch if key not in keep]
        if orphans:
            storage.delete_objects(orphans)
            report.orphans_deleted += len(orphans)
        batch.clear()

    for key, modified in storage.list_objects(prefix):
        if modified < cutoff:
            batch.append(key)
            if len(batch) >= 500:
                flush()
    if batch:
        flush()
    return report


def library_purge_user(*, user_id: uuid.UUID) -> int:
    """Delete every object of a user and abort their uploads in progress; returns the number
    of objects deleted. Rows go with the account (foreign keys cascade). Call it once the
    account deletion committed (`transaction.on_commit`): objects cannot be rolled back."""
    prefix = storage.owner_prefix(user_id)
    for key, s3_upload_id in list(storage.list_multipart_uploads(prefix)):
        storage.multipart_abort(key, upload_id=s3_upload_id)
    keys = [key for key, _ in storage.list_objects(prefix)]
    storage.delete_objects(keys)
    return len(keys)


# --- viewer state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewerStateResult:
    document: dict[str, Any]
    applied: bool
    reason: str | None


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
    using = _db()
    with owner_write(owner_id=owner_id):
        file = _locked_file(owner_id, file_id)
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
