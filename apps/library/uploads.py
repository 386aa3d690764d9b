"""Direct uploads (the client sends the bytes straight to S3 in parts, then completes) and the
cleanup of what abandoned uploads leave behind. The file row itself is made as for a streamed
upload (services.file_record), so both paths end in the same checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.common.errors import NotFound
from apps.sync.feed import owner_write

from . import multipart, selectors, services, sniffing, storage
from .errors import UnsupportedFileType, UploadIncomplete, UploadNotPending
from .inspection import inspect_object
from .models import File, Upload
from .naming import EXTENSIONS, sanitize_name


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
    services.check_size(size)
    if content_type not in sniffing.ALLOWED_CONTENT_TYPES:
        raise UnsupportedFileType(
            f"{content_type!r} is not accepted: send a PDF, EPUB, PNG, JPEG, WebP or GIF.",
            reason="declared_type",
        )
    sha256 = sha256.lower()
    name = sanitize_name(name, default_extension=EXTENSIONS[content_type])
    found = services.file_existing(owner_id=owner_id, sha256=sha256, name=name, file_id=file_id)
    if found is not None:
        return UploadStart(file=found.file)
    services.check_quota(owner_id, size)
    part_size = selectors.part_size_for(size)
    key = storage.new_key(owner_id)
    s3_upload_id = multipart.multipart_create(key, content_type=content_type)
    try:
        with owner_write(owner_id=owner_id):
            services.check_quota(owner_id, size)
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
        multipart.multipart_abort(key, upload_id=s3_upload_id)
        raise
    return UploadStart(upload=upload)


def _claim(owner_id: uuid.UUID, upload_id: uuid.UUID) -> Upload | services.FileResult:
    """Move a pending upload to `completing` (so a second `complete` cannot race it), or return
    the file of an upload that already completed (a retried `complete` is idempotent)."""
    with transaction.atomic(using=services.write_db()):
        upload = Upload.objects.select_for_update().filter(id=upload_id, owner_id=owner_id).first()
        if upload is None:
            raise NotFound("No such upload.")
        if upload.status == Upload.Status.COMPLETED and upload.file_id is not None:
            file = selectors.file_list(owner_id=owner_id).filter(id=upload.file_id).first()
            if file is not None:
                return services.FileResult(file, created=False)
        if upload.status != Upload.Status.PENDING:
            raise UploadNotPending(f"This upload is {upload.status}.", extra={"upload_status": upload.status})
        upload.status = Upload.Status.COMPLETING
        upload.save(update_fields=["status", "updated_at"])
    return upload


def _set_status(upload: Upload, status: str, error: str = "") -> None:
    upload.status = status
    upload.error = error[:200]
    upload.save(update_fields=["status", "error", "updated_at"])


def upload_complete(*, owner_id: uuid.UUID, upload_id: uuid.UUID) -> services.FileResult:
    """Verify what the client put in S3 (every part there at the right size, then the whole
    object's size, type and SHA-256) and create the file."""
    claimed = _claim(owner_id, upload_id)
    if isinstance(claimed, services.FileResult):
        return claimed
    upload = claimed
    key = upload.storage_key
    try:
        by_number = selectors.current_parts(upload, multipart.list_parts(key, upload_id=upload.s3_upload_id))
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
        multipart.multipart_complete(
            key, upload_id=upload.s3_upload_id, parts=[by_number[n] for n in range(1, upload.part_count + 1)]
        )
    except multipart.UploadGone:
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


def _verify_and_create(upload: Upload) -> services.FileResult:
    """Size, type, SHA-256, then the inspection, read from S3 without a local copy (see
    inspection.py)."""
    inspection = inspect_object(upload.storage_key, size=upload.size, sha256=upload.sha256)
    return services.file_record(
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
    with transaction.atomic(using=services.write_db()):
        upload = Upload.objects.select_for_update().filter(id=upload_id, owner_id=owner_id).first()
        if upload is None:
            raise NotFound("No such upload.")
        if upload.status in (Upload.Status.ABORTED, Upload.Status.FAILED):
            return
        if upload.status != Upload.Status.PENDING:
            raise UploadNotPending(f"This upload is {upload.status}.", extra={"upload_status": upload.status})
        _set_status(upload, Upload.Status.ABORTED)
        key, s3_upload_id = upload.storage_key, upload.s3_upload_id
    multipart.multipart_abort(key, upload_id=s3_upload_id)


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
                multipart.multipart_abort(upload.storage_key, upload_id=upload.s3_upload_id)
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
            multipart.multipart_abort(key, upload_id=s3_upload_id)
            report.multipart_aborted += 1

    batch: list[str] = []

    def flush() -> None:
        # A cover (covers.py) lives as long as the file whose key it extends.
        owners = {key: storage.cover_of(key) or key for key in batch}
        wanted = set(owners.values())
        keep = set(
            File.objects.filter(storage_key__in=wanted, deleted_at__isnull=True).values_list(
                "storage_key", flat=True
            )
        )
        keep |= set(open_uploads.filter(storage_key__in=wanted).values_list("storage_key", flat=True))
        orphans = [key for key in batch if owners[key] not in keep]
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
