"""Running export and import jobs: `manage.py portability_worker` (its own small Deployment in a
cluster), or a thread of the serving process when PORTABILITY_RUN_IN_PROCESS is on (`make run`).

A worker claims a job (services.job_claim), runs it, records the end, and claims the next; with
nothing to do it sleeps `poll` seconds and, once a minute, does the housekeeping (expired
archives, abandoned multipart uploads, old rows). Jobs run one at a time per worker: an export
is I/O (database, S3) and one file's inspection at a time is what the pod is sized for; more
throughput is more replicas, which the SKIP LOCKED claim makes safe.

While a job runs, a second thread (`LeaseKeeper`) renews its lease every minute on its own
database connection — the export's reads hold a long snapshot transaction on the main one, in
which a renewal would stay invisible until the end. It renews only while the job makes progress
(`checkpoint` calls, at least every few seconds of work): a job stuck for STALL stops being
renewed, its lease runs out and another worker takes it over; the stuck worker's liveness file
goes stale too, so Kubernetes restarts it.

How a job ends:
- done: the export's archive is in storage (`expires_at` says until when); the import's
  objects and rows are in, its uploaded archive is deleted;
- failed for good: a business error (an invalid archive, an account that is not empty, the
  quota) keeps its problem document as `error`; anything else is a bug, logged, and the job's
  error says `server_error` — retrying would fail the same way;
- retried: storage or the database was unreachable for a moment; the job is claimed again after
  a pause (at most services.MAX_ATTEMPTS attempts in all);
- given back: SIGTERM (a rollout) interrupts the job at its next checkpoint, aborts what it was
  writing and queues it again for the next worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.utils import InterfaceError, OperationalError

from apps.library import storage

from . import exporter, importer, services
from .models import Job

logger = logging.getLogger(__name__)

RENEW_EVERY = 60.0
# No checkpoint for this long: the job is stuck; its lease is no longer renewed.
STALL = 120.0
HOUSEKEEPING_EVERY = 60.0
BEAT_EVERY = 10.0


class Interrupted(Exception):
    """The job must stop: the worker is shutting down, or the job is no longer its own."""


class LeaseKeeper(threading.Thread):
    def __init__(self, job: Job, runner: Worker) -> None:
        super().__init__(name=f"lease-{job.id}", daemon=True)
        self.job, self.runner = job, runner
        self.finished = threading.Event()
        self.lost = False

    def run(self) -> None:
        try:
            while not self.finished.wait(RENEW_EVERY):
                if time.monotonic() - self.runner.progressed > STALL:
                    logger.warning(
                        "%s %s makes no progress: its lease is not renewed", self.job.kind, self.job.id
                    )
                    continue
                try:
                    renewed = services.job_renew(self.job)
                except DatabaseError:
                    logger.warning("could not renew the lease of %s", self.job.id, exc_info=True)
                    continue
                if not renewed:
                    self.lost = True
                    return
                self.runner.beat(force=True)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self.finished.set()


class Worker:
    def __init__(self, *, stop: threading.Event | None = None, heartbeat: str | None = None) -> None:
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:200]
        self.stop = stop or threading.Event()
        self.heartbeat = Path(heartbeat) if heartbeat else None
        self.progressed = time.monotonic()
        self._beaten = 0.0
        self._keeper: LeaseKeeper | None = None

    # --- liveness and progress ---

    def beat(self, *, force: bool = False) -> None:
        """Touch the liveness file (at most every BEAT_EVERY seconds unless forced)."""
        now = time.monotonic()
        if self.heartbeat is None or (not force and now - self._beaten < BEAT_EVERY):
            return
        self._beaten = now
        try:
            self.heartbeat.touch()
        except OSError:
            logger.warning("cannot touch %s", self.heartbeat, exc_info=True)

    def checkpoint(self) -> None:
        """Called by the running job between steps: progress is noted, and the job stops here
        if the worker is shutting down or lost the job."""
        self.progressed = time.monotonic()
        self.beat()
        if self.stop.is_set():
            raise Interrupted("the worker is shutting down")
        if self._keeper is not None and self._keeper.lost:
            raise Interrupted("the job's lease was lost")

    # --- the loop ---

    def run(self, *, once: bool = False, poll: float = 2.0) -> int:
        """Claim and run jobs until stopped; with `once`, until none is left. Returns how many
        jobs ran."""
        ran = 0
        housekept = 0.0
        while not self.stop.is_set():
            self.beat()
            try:
                job = services.job_claim(worker=self.name)
            except DatabaseError:  # the database is away: a fresh connection, a little later
                logger.warning("cannot claim a job", exc_info=True)
                connections.close_all()
                self.stop.wait(poll)
                continue
            if job is not None:
                self.run_job(job)
                ran += 1
                continue
            if time.monotonic() - housekept > HOUSEKEEPING_EVERY:
                housekept = time.monotonic()
                self.housekeeping()
            if once:
                break
            self.stop.wait(poll)
        return ran

    def housekeeping(self) -> None:
        try:
            report = services.jobs_housekeeping()
        except Exception:  # storage or database trouble: next time
            logger.warning("portability housekeeping failed", exc_info=True)
            return
        if any(report.values()):
            logger.info("portability housekeeping: %s", report)

    def run_job(self, job: Job) -> None:
        started = time.monotonic()
        self.progressed = started
        logger.info("%s %s started (attempt %d)", job.kind, job.id, job.attempts)
        self._keeper = LeaseKeeper(job, self)
        self._keeper.start()
        try:
            self._run(job)
        finally:
            self._keeper.stop()
            self._keeper = None
        # Log fields (JSON logs), not problem members.
        fields = {"job_size": job.archive_size, "job_counts": job.counts}
        logger.info(
            "%s %s %s in %.1f s", job.kind, job.id, job.status, time.monotonic() - started, extra=fields
        )

    def _run(self, job: Job) -> None:
        try:
            if job.kind == Job.Kind.EXPORT:
                size, counts = exporter.export_archive(job, checkpoint=self.checkpoint)
                services.job_finish(
                    job, status=Job.Status.DONE, counts=importer.counted(counts), archive_size=size
                )
            else:
                counts = importer.import_archive(job, checkpoint=self.checkpoint)
                if services.job_finish(job, status=Job.Status.DONE, counts=counts):
                    services.delete_archive_quietly(job)
        except Interrupted:
            if self.stop.is_set():
                services.job_release(job)
                job.status = Job.Status.QUEUED
            logger.info("%s %s interrupted", job.kind, job.id)
        except Exception as exc:
            self._failed(job, exc)

    def _failed(self, job: Job, exc: Exception) -> None:
        try:
            if _is_passing(exc):
                logger.warning("%s %s: a dependency failed; retried later", job.kind, job.id, exc_info=exc)
                services.job_retry_later(job)
                return
            if services.job_fail(job, exc) and job.kind == Job.Kind.IMPORT:
                services.delete_archive_quietly(job)
        except DatabaseError:  # the end is not recorded: the lease runs out and the job is retried
            connections.close_all()
            logger.warning("could not record the end of %s %s", job.kind, job.id, exc_info=True)


def _is_passing(exc: BaseException) -> bool:
    """An outage a later attempt may not meet: storage unreachable, the database gone."""
    return storage.is_outage(exc) or isinstance(exc, (OperationalError, InterfaceError))


# --- in the serving process (make run) -------------------------------------------------------------


def _drain() -> None:
    try:
        Worker().run(once=True)
    except Exception:
        logger.exception("running queued jobs in-process failed")
    finally:
        connections.close_all()


def run_in_thread() -> None:
    """Run the queued jobs in a thread of this process (PORTABILITY_RUN_IN_PROCESS)."""
    threading.Thread(target=_drain, name="portability-jobs", daemon=True).start()


def queued() -> None:
    """A job was just queued (by the API): with PORTABILITY_RUN_IN_PROCESS (`make run`, no
    worker process) run it here, once its row is committed."""
    if settings.PORTABILITY_RUN_IN_PROCESS:
        transaction.on_commit(run_in_thread, using=router.db_for_write(Job))


def run_forever(*, poll: float, stop: threading.Event) -> int:
    return Worker(stop=stop, heartbeat=settings.PORTABILITY_WORKER_HEARTBEAT or None).run(poll=poll)
