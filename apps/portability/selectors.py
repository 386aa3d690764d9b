"""Reads of export and import jobs, each scoped to its owner: another user's job is 404."""

from __future__ import annotations

import uuid

from django.db import router
from django.db.models import QuerySet

from apps.common.errors import NotFound
from apps.library import portability as library_portability
from apps.library import storage
from apps.notes import portability as notes_portability
from apps.todos import portability as todos_portability

from .models import Job


def job_list(*, owner_id: uuid.UUID, kind: str) -> QuerySet[Job]:
    return Job.objects.filter(owner_id=owner_id, kind=kind)


def job_get(*, owner_id: uuid.UUID, kind: str, job_id: uuid.UUID) -> Job:
    # The primary: a client polls right after starting a job, and a replica a moment behind
    # would answer 404 for it.
    job = Job.objects.using(router.db_for_write(Job)).filter(owner_id=owner_id, kind=kind, id=job_id).first()
    if job is None:
        raise NotFound(f"No such {kind}.")
    return job


def download_name(job: Job) -> str:
    return f"exampleapp-export-{job.created_at:%Y-%m-%d}-{str(job.id)[:8]}.zip"


def presigned_download(job: Job) -> str:
    """A short-lived URL of a finished export's archive that answers as an attachment (S3)."""
    return storage.download_url(job.archive_key, filename=download_name(job), content_type="application/zip")


def account_holds_data(*, owner_id: uuid.UUID) -> bool:
    """Whether the account has anything an import would add to (an import goes into an account
    that holds nothing yet)."""
    return (
        library_portability.holds_data(owner_id=owner_id)
        or notes_portability.holds_data(owner_id=owner_id)
        or todos_portability.holds_data(owner_id=owner_id)
    )
