"""Library files, the direct-to-S3 uploads that produce them, and where each file was last viewed.

A `File` row points at one immutable object in storage (`storage_key`, `users/<owner>/<uuid>`);
the user's file name is sanitised metadata only. Soft delete: `deleted_at` marks a tombstone for
the sync feed; the object itself is deleted when the tombstone is written. The default managers
show tombstones too (`purge_tombstones` finds them through them); selectors hide them.

Viewer state: one `ViewerState` per file (its current position), the latest position of every
device that reported one (`ViewerDevicePosition`) and a short history of writes
(`ViewerStateEntry`). Positions are stored as the client sent them, after validation.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.common.models import SyncedModel

NAME_MAX_LENGTH = 255
DEVICE_ID_MAX_LENGTH = 200

# Fields a client may change on a file; `field_versions` records the version at which each of
# them last changed, for the per-field merge of sync.
EDITABLE_FIELDS: tuple[str, ...] = ("name", "tags")


class FileKind(models.TextChoices):
    PDF = "pdf"
    EPUB = "epub"
    IMAGE = "image"


class File(SyncedModel):
    sync_type = "file"
    editable_fields = EDITABLE_FIELDS

    class Status(models.TextChoices):
        READY = "ready", "ready"
        # The bytes passed validation and are stored; extracting metadata failed (the reason is
        # in metadata["error"]). The file works; only its metadata is missing.
        METADATA_FAILED = "metadata_failed", "stored, metadata extraction failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="library_files"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=8, choices=FileKind.choices)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # KOReader's "partial MD5" document id (see hashing.koreader_partial_md5): the kosync adapter
    # matches a KOReader document to a library file with it.
    koreader_hash = models.CharField(max_length=32)
    storage_key = models.CharField(max_length=255, unique=True, editable=False)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READY)
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            # Dedup is per user: one live file per content hash.
            models.UniqueConstraint(
                fields=["owner", "sha256"],
                condition=models.Q(deleted_at__isnull=True),
                name="file_owner_sha256_live",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="file_owner_created"),
            models.Index(fields=["owner", "updated_at"], name="file_owner_updated"),
            models.Index(fields=["owner", "koreader_hash"], name="file_owner_koreader"),
        ]

    def __str__(self) -> str:
        return self.name


class Upload(models.Model):
    """A direct-to-S3 multipart upload in progress (or finished: rows are kept until
    `cleanup_uploads` removes them, so `complete` can be retried idempotently)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        # `complete` is verifying the object; a crash here leaves it for cleanup_uploads.
        COMPLETING = "completing"
        COMPLETED = "completed"
        ABORTED = "aborted"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="library_uploads"
    )
    # The id the file gets when the upload completes (client-chosen or generated).
    new_file_id = models.UUIDField(default=uuid.uuid4)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    declared_type = models.CharField(max_length=100)
    storage_key = models.CharField(max_length=255, unique=True, editable=False)
    s3_upload_id = models.CharField(max_length=1024, editable=False)
    part_size = models.PositiveBigIntegerField()
    part_count = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=200, blank=True)
    # The file the upload became (or, when the owner had the bytes already, that file).
    file = models.ForeignKey(File, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "status", "-created_at"], name="upload_owner_status"),
            models.Index(fields=["status", "created_at"], name="upload_status_age"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class Intent(models.TextChoices):
    ADVANCE = "advance"
    JUMP = "jump"


class ViewerState(SyncedModel):
    """Where the user is in a file: the current position and who set it. `version` grows with
    every accepted write (also writes that only moved a device's own position)."""

    sync_type = "viewer_state"
    # What a write can change, as field_versions records it: the current position, and the
    # devices' own positions.
    editable_fields = ("current", "devices")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="library_viewer_states"
    )
    file = models.OneToOneField(File, on_delete=models.CASCADE, related_name="viewer_state")
    kind = models.CharField(max_length=8, choices=FileKind.choices)
    # The current position: a Readium Locator (EPUB) or the PDF / image view, as validated.
    position = models.JSONField(default=dict)
    device_id = models.CharField(max_length=DEVICE_ID_MAX_LENGTH)
    device_name = models.CharField(max_length=DEVICE_ID_MAX_LENGTH, blank=True)
    # The client's clock when the current position was reached; later writes must be newer.
    modified = models.DateTimeField()
    intent = models.CharField(max_length=8, choices=Intent.choices, default=Intent.ADVANCE)
    # 0..1 through the whole publication, computed by the server; null when it has no meaning
    # (images) or cannot be computed.
    progress = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-updated_at"], name="viewer_owner_recent")]

    @property
    def feed_id(self) -> uuid.UUID:
        """A viewer state is known in the feed by its file's id (one per user and file)."""
        return self.file_id

    def __str__(self) -> str:
        return f"viewer state of {self.file_id}"


class DeviceReport(models.Model):
    """What one device said about where it is in a file: a device's latest report and the
    history of accepted writes keep the same fields."""

    id = models.BigAutoField(primary_key=True)
    device_id = models.CharField(max_length=DEVICE_ID_MAX_LENGTH)
    device_name = models.CharField(max_length=DEVICE_ID_MAX_LENGTH, blank=True)
    position = models.JSONField(default=dict)
    modified = models.DateTimeField()
    intent = models.CharField(max_length=8, choices=Intent.choices, default=Intent.ADVANCE)
    progress = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        abstract = True


class ViewerDevicePosition(DeviceReport):
    """The latest position each device reported, whether or not it became the current one."""

    viewer_state = models.ForeignKey(ViewerState, on_delete=models.CASCADE, related_name="devices")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["viewer_state", "device_id"], name="viewer_device_once"),
        ]

    def __str__(self) -> str:
        return f"{self.device_name or self.device_id} @ {self.viewer_state_id}"


class ViewerStateEntry(DeviceReport):
    """One accepted write, newest kept (VIEWER_STATE_HISTORY_KEPT per viewer state)."""

    class Reason(models.TextChoices):
        REGRESSION = "regression", "moved backwards without intent=jump"

    viewer_state = models.ForeignKey(ViewerState, on_delete=models.CASCADE, related_name="history")
    version = models.PositiveBigIntegerField()
    applied = models.BooleanField()
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["viewer_state", "-version"], name="viewer_history_recent")]
        verbose_name_plural = "viewer state entries"

    def __str__(self) -> str:
        return f"v{self.version} by {self.device_id}"


class KosyncProgress(models.Model):
    """KOReader's own progress record for one document hash, kept exactly as the protocol
    stores it (last write wins), whether or not the hash matches a library file."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    document = models.CharField(max_length=64)
    progress = models.TextField()
    percentage = models.FloatField()
    device = models.CharField(max_length=200)
    device_id = models.CharField(max_length=100, blank=True)
    timestamp = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "document"], name="kosync_one_per_document")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.document}"
