"""Export and import jobs: one row per request, claimed and run by the worker.

The table is the queue (docs/export.md, "Mechanism"): a worker claims the oldest queued job with
`SELECT … FOR UPDATE SKIP LOCKED`, marks it running under a lease it keeps renewing, and
finishes it as done or failed. A job whose lease ran out (its worker died) is claimed again;
after MAX_ATTEMPTS it fails. A partial unique index allows one queued or running job per user.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Job(models.Model):
    class Kind(models.TextChoices):
        EXPORT = "export"
        IMPORT = "import"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        # An export whose archive was deleted after EXPORT_RETENTION_HOURS.
        EXPIRED = "expired"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Exports: when the archive is deleted.
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The worker holding the job (host:pid) and until when; it renews the lease while it works.
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The archive in storage: the export's result, or the uploaded archive of an import (deleted
    # when the import ends).
    archive_key = models.CharField(max_length=255, blank=True)
    archive_size = models.PositiveBigIntegerField(null=True, blank=True)
    # What the archive holds (records per kind of object).
    counts = models.JSONField(default=dict, blank=True)
    # A failed job's problem document (the same problem+json an API error would be).
    error = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(status__in=["queued", "running"]),
                name="portability_one_active_job",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="portability_job_queue"),
            models.Index(fields=["owner", "kind", "-created_at", "-id"], name="portability_job_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"
