"""Writes of export and import jobs: starting one, the worker's claim, lease and finish, the
housekeeping of old archives, and the account purge. What a job does is in exporter.py and
importer.py; the loop that runs them is worker.py.

Starting: one queued or running job per user (a partial unique index decides, so two racing
requests cannot both start one: 409 `job_in_progress`), at most EXPORTS_PER_DAY exports and
IMPORTS_PER_DAY imports a day (429 `throttled`, counted from the jobs table: the same answer on
every pod, with or without Redis).

Running: `job_claim` takes the oldest queued job — or a running one whose lease ran out, its
worker having died — with `SELECT … FOR UPDATE SKIP LOCKED`, so any number of workers share
the queue without taking the same job; the conditional UPDATE after it keeps that true on
SQLite, which has no row locks. Every later write of the job names the worker, so a worker that
lost its lease (it stalled past it and another took over) changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.errors import ApplicationError, ErrorCode, problem_body
from apps.library import multipart, storage

from . import selectors
from .errors import ImportTargetNotEmpty, JobInProgress, TooManyJobs
from .models import Job

logger = logging.getLogger(__name__)

# A worker renews its lease well before this runs out (worker.LeaseKeeper).
LEASE = timedelta(minutes=5)
# A job whose worker died this many times (or hit a passing outage) fails for good.
MAX_ATTEMPTS = 3
# Finished jobs are listed this long, then their rows go.
ROWS_KEPT = timedelta(days=30)
# A multipart upload of an export no job owns any more is aborted once it is this old.
ABANDONED_UPLOAD_AGE = timedelta(hours=6)
EXPORT_PREFIX = "exports/"
IMPORT_PREFIX = "imports/"


def _db() -> str:
    return router.db_for_write(Job)


def archive_key(*, kind: str, owner_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """Where a job's archive lives: outside `users/` (the library's cleanup deletes objects there
    that no file owns), under the owner's id (the account purge finds them)."""
    prefix = EXPORT_PREFIX if kind == Job.Kind.EXPORT else IMPORT_PREFIX
    return f"{prefix}{owner_id}/{job_id}.zip"


# --- starting ----------------------------------------------------------------------------------


def job_check_can_start(*, owner_id: uuid.UUID, kind: str) -> None:
    """Refuse before any work (an import's upload) what job_create would refuse anyway."""
    active = Job.objects.using(_db()).filter(owner_id=owner_id, status__in=Job.ACTIVE).first()
    if active is not None:
        started = f"{active.created_at:%Y-%m-%d %H:%M} UTC"
        raise JobInProgress(
            f"An {active.kind} of this account is {active.status} (since {started}); one at a time."
        )
    limit = settings.EXPORTS_PER_DAY if kind == Job.Kind.EXPORT else settings.IMPORTS_PER_DAY
    since = timezone.now() - timedelta(days=1)
    recent = list(
        Job.objects.using(_db())
        .filter(owner_id=owner_id, kind=kind, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        wait = int((recent[-1] + timedelta(days=1) - timezone.now()).total_seconds()) + 1
        raise TooManyJobs(
            f"At most {limit} {kind}s a day; the next one can start in {wait // 60 + 1} minutes.",
            retry_after=wait,
        )


def job_create(
    *, owner_id: uuid.UUID, kind: str, job_id: uuid.UUID | None = None, size: int | None = None
) -> Job:
    job_check_can_start(owner_id=owner_id, kind=kind)
    job_id = job_id or uuid.uuid4()
    job = Job(
        id=job_id,
        owner_id=owner_id,
        kind=kind,
        created_at=timezone.now(),
        archive_key=archive_key(kind=kind, owner_id=owner_id, job_id=job_id),
        archive_size=size,
    )
    try:
        with transaction.atomic(using=_db()):
            job.save(force_insert=True, using=_db())
    except IntegrityError:  # another request started one in between (the partial unique index)
        raise JobInProgress("An export or import of this account has just started; one at a time.") from None
    return job


def export_start(*, owner_id: uuid.UUID) -> Job:
    return job_create(owner_id=owner_id, kind=Job.Kind.EXPORT)


def import_check_target(*, owner_id: uuid.UUID) -> None:
    if selectors.account_holds_data(owner_id=owner_id):
        raise ImportTargetNotEmpty(
            "An archive is restored into an account that holds no task lists, tasks, notes, files or "
            "KOReader records yet: sign up anew, or delete what this account holds."
        )


# --- the worker's side ---------------------------------------------------------------------------


def job_claim(*, worker: str, now: datetime | None = None) -> Job | None:
    """The next job for `worker`, now running under its lease; None when there is none."""
    now = now or timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    using = _db()
    with transaction.atomic(using=using):
        job = (
            Job.objects.using(using)
            .select_for_update(skip_locked=True)
            .filter(claimable)
            .order_by("created_at")
            .first()
        )
        if job is None:
            return None
        taken = (
            Job.objects.using(using)
            .filter(claimable, id=job.id, attempts=job.attempts)
            .update(
                status=Job.Status.RUNNING,
                worker=worker,
                lease_expires_at=now + LEASE,
                attempts=job.attempts + 1,
                started_at=job.started_at or now,
            )
        )
    if not taken:
        return None
    job.refresh_from_db(using=using)
    if job.attempts > MAX_ATTEMPTS:
        job_finish(
            job,
            status=Job.Status.FAILED,
            error=problem_body(
                status=500,
                code=ErrorCode.SERVER_ERROR,
                detail=f"The {job.kind} stopped {MAX_ATTEMPTS} times before it could finish.",
            ),
        )
        delete_archive_quietly(job, import_only=True)
        return None
    return job


def job_renew(job: Job) -> bool:
    """Extend the lease; False when the job is no longer this worker's."""
    return bool(
        Job.objects.using(_db())
        .filter(id=job.id, worker=job.worker, status=Job.Status.RUNNING)
        .update(lease_expires_at=timezone.now() + LEASE)
    )


def _owned(job: Job) -> Q:
    return Q(id=job.id, worker=job.worker, status=Job.Status.RUNNING)


def job_finish(
    job: Job,
    *,
    status: str,
    counts: dict[str, int] | None = None,
    error: dict[str, object] | None = None,
    archive_size: int | None = None,
) -> bool:
    """Record the end of a job this worker holds; False when it is no longer its."""
    now = timezone.now()
    fields: dict[str, object] = {
        "status": status,
        "finished_at": now,
        "lease_expires_at": None,
        "error": error,
    }
    if counts is not None:
        fields["counts"] = counts
    if archive_size is not None:
        fields["archive_size"] = archive_size
    if job.kind == Job.Kind.EXPORT and status == Job.Status.DONE:
        fields["expires_at"] = now + timedelta(hours=settings.EXPORT_RETENTION_HOURS)
    done = Job.objects.using(_db()).filter(_owned(job)).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    return bool(done)


def job_fail(job: Job, exc: BaseException) -> bool:
    """Finish a job that failed for good: a business error keeps its problem document; anything
    else is a bug, logged, and told as a server error (no internals)."""
    if isinstance(exc, ApplicationError):
        error = problem_body(
            status=exc.status, code=exc.code, detail=exc.detail, errors=exc.errors, extra=exc.extra
        )
    else:
        logger.error("%s %s failed", job.kind, job.id, exc_info=exc)
        error = problem_body(
            status=500, code=ErrorCode.SERVER_ERROR, detail=f"The {job.kind} failed; it has been logged."
        )
    return job_finish(job, status=Job.Status.FAILED, error=error)


def job_retry_later(job: Job) -> None:
    """A passing outage (storage, database): leave the job for a later claim, after a pause that
    grows with each attempt (its lease is set to run out then, with no worker holding it)."""
    pause = timedelta(seconds=30 * job.attempts)
    Job.objects.using(_db()).filter(_owned(job)).update(worker="", lease_expires_at=timezone.now() + pause)


def job_release(job: Job) -> None:
    """Give a job back at once (the worker is shutting down): queued again, the attempt not
    counted."""
    Job.objects.using(_db()).filter(_owned(job)).update(
        status=Job.Status.QUEUED, worker="", lease_expires_at=None, attempts=max(0, job.attempts - 1)
    )


# --- archives and housekeeping -------------------------------------------------------------------


def delete_archive_quietly(job: Job, *, import_only: bool = False) -> None:
    if job.archive_key and not (import_only and job.kind != Job.Kind.IMPORT):
        storage.delete_quietly([job.archive_key])


def jobs_housekeeping(*, now: datetime | None = None, user_id: uuid.UUID | None = None) -> dict[str, int]:
    """Delete the archives of exports past EXPORT_RETENTION_HOURS (the job becomes `expired`),
    abort multipart uploads no running export owns that are older than ABANDONED_UPLOAD_AGE (a
    worker died while writing), and forget finished jobs after ROWS_KEPT; with `user_id`, only
    that user's. Safe to run from any number of workers at once."""
    now = now or timezone.now()
    report = {"expired": 0, "aborted": 0, "forgotten": 0}
    using = _db()
    jobs = Job.objects.using(using)
    if user_id is not None:
        jobs = jobs.filter(owner_id=user_id)
    for job in jobs.filter(kind=Job.Kind.EXPORT, status=Job.Status.DONE, expires_at__lt=now)[:500]:
        storage.delete_quietly([job.archive_key])
        report["expired"] += (
            Job.objects.using(using)
            .filter(id=job.id, status=Job.Status.DONE)
            .update(status=Job.Status.EXPIRED, archive_size=None)
        )
    # Listed before the active jobs are read: an upload started after the listing is not in it.
    prefix = f"{EXPORT_PREFIX}{user_id}/" if user_id is not None else EXPORT_PREFIX
    started = list(storage.multipart_uploads_started(prefix))
    if started:
        active = set(
            Job.objects.using(using).filter(status__in=Job.ACTIVE).values_list("archive_key", flat=True)
        )
        for key, upload_id, initiated in started:
            # Old as well as ownerless: a job's row and its upload are never out of step for long.
            if key not in active and initiated < now - ABANDONED_UPLOAD_AGE:
                multipart.multipart_abort(key, upload_id=upload_id)
                report["aborted"] += 1
    report["forgotten"], _ = (
        jobs.filter(finished_at__lt=now - ROWS_KEPT).exclude(status__in=Job.ACTIVE).delete()
    )
    return report


def portability_purge_user(*, user_id: uuid.UUID) -> int:
    """Delete every export and import archive of a deleted account (ACCOUNT_DELETED_HOOKS; its
    job rows went with it). Returns the number of objects deleted."""
    keys = [
        key
        for prefix in (EXPORT_PREFIX, IMPORT_PREFIX)
        for key, _ in storage.list_objects(f"{prefix}{user_id}/")
    ]
    for prefix in (EXPORT_PREFIX, IMPORT_PREFIX):
        for key, upload_id in list(storage.list_multipart_uploads(f"{prefix}{user_id}/")):
            multipart.multipart_abort(key, upload_id=upload_id)
    storage.delete_objects(keys)
    return len(keys)
