"""The job queue and its worker (apps/portability/services.py, worker.py): SKIP LOCKED claims,
leases that run out and are renewed, retries, give-back on shutdown, failures recorded as
problems, and the in-process mode of `make run`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone

from apps.library import storage
from apps.portability import exporter, services, worker
from apps.portability.models import Job
from tests.conftest import Account

from .conftest import ok, run_jobs, stored_keys


def _queued(account: Account) -> Job:
    return Job.objects.get(id=ok(account.client.post("/v1/users/me/export"), 202)["id"])


@pytest.mark.django_db(transaction=True)
def test_a_locked_job_is_skipped_not_waited_for(account: Account) -> None:
    """Two workers never take the same job: a claim in progress holds the row, and another
    claim passes over it at once (SKIP LOCKED) instead of waiting or taking it too."""
    job = _queued(account)
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Job.objects.select_for_update().get(id=job.id)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    assert services.job_claim(worker="me") is None
    assert time.monotonic() - started < 2, "the claim waited for the lock"
    release.set()
    thread.join()
    claimed = services.job_claim(worker="me")
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.worker, claimed.attempts) == (job.id, "running", "me", 1)
    assert services.job_claim(worker="someone else") is None


@pytest.mark.django_db
def test_a_dead_workers_job_is_taken_over_when_its_lease_runs_out(account: Account) -> None:
    job = _queued(account)
    dead = services.job_claim(worker="dead")
    assert dead is not None
    assert services.job_claim(worker="alive") is None  # its lease still runs
    Job.objects.filter(id=job.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    alive = services.job_claim(worker="alive")
    assert alive is not None
    assert (alive.worker, alive.attempts) == ("alive", 2)
    # The dead worker, come back, can change nothing any more.
    assert not services.job_renew(dead)
    assert not services.job_finish(dead, status=Job.Status.DONE)
    assert Job.objects.get(id=job.id).worker == "alive"


@pytest.mark.django_db
def test_a_job_that_keeps_dying_fails(account: Account) -> None:
    job = _queued(account)
    Job.objects.filter(id=job.id).update(
        status=Job.Status.RUNNING, attempts=services.MAX_ATTEMPTS, lease_expires_at=timezone.now()
    )
    assert services.job_claim(worker="w") is None
    failed = ok(account.client.get(f"/v1/users/me/export/{job.id}"))
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error"


@pytest.mark.django_db
def test_shutdown_gives_the_job_back_and_aborts_the_upload(account: Account, settings: Any) -> None:
    settings.EXPORT_PART_BYTES = 5 * 1024 * 1024
    from tests.library import factories
    from tests.library.conftest import upload

    for n in range(2):
        ok(upload(account.client, factories.StreamedPdf(6 * 1024 * 1024 + n).read_all(), f"{n}.pdf"), 201)
    job = _queued(account)
    runner = worker.Worker()
    calls = 0
    original = runner.checkpoint

    def checkpoint() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # a part is in S3 by now: SIGTERM arrives
            runner.stop.set()
        original()

    claimed = services.job_claim(worker=runner.name)
    assert claimed is not None
    runner.checkpoint = checkpoint  # type: ignore[method-assign]
    runner.run_job(claimed)
    back = Job.objects.get(id=job.id)
    assert (back.status, back.worker, back.attempts) == ("queued", "", 0)
    assert stored_keys(f"exports/{account.id}/") == []
    assert not list(storage.list_multipart_uploads(f"exports/{account.id}/"))
    run_jobs()  # the next worker does it
    assert Job.objects.get(id=job.id).status == "done"


@pytest.mark.django_db
def test_an_outage_is_retried_later(account: Account, settings: Any) -> None:
    job = _queued(account)
    default = settings.STORAGES["default"]
    dead = {**default["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"}  # nothing listens there
    with override_settings(STORAGES={**settings.STORAGES, "default": {**default, "OPTIONS": dead}}):
        run_jobs()
    waiting = Job.objects.get(id=job.id)
    assert (waiting.status, waiting.worker, waiting.attempts) == ("running", "", 1)
    assert waiting.lease_expires_at is not None
    assert waiting.lease_expires_at > timezone.now()  # not before the pause
    run_jobs()
    assert Job.objects.get(id=job.id).attempts == 1, "claimed before its pause ended"
    Job.objects.filter(id=job.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    run_jobs()
    assert Job.objects.get(id=job.id).status == "done"


@pytest.mark.django_db
def test_a_bug_fails_the_job_without_internals(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _queued(account)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(exporter, "export_archive", broken)
    run_jobs()
    failed = ok(account.client.get(f"/v1/users/me/export/{job.id}"))
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error"
    assert "secret" not in str(failed)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_the_job_progresses_and_only_then(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _queued(account)
    monkeypatch.setattr(worker, "RENEW_EVERY", 0.05)
    monkeypatch.setattr(worker, "STALL", 0.3)
    seen: list[Any] = []

    def slow_export(claimed: Job, *, checkpoint: Any) -> tuple[int, dict[str, int]]:
        for _ in range(10):  # working: checkpoints keep coming
            checkpoint()
            time.sleep(0.05)
            seen.append(Job.objects.get(id=claimed.id).lease_expires_at)
        time.sleep(0.8)  # stuck: no checkpoint for longer than STALL
        seen.append(Job.objects.get(id=claimed.id).lease_expires_at)
        time.sleep(0.3)
        seen.append(Job.objects.get(id=claimed.id).lease_expires_at)
        return 1, {}

    monkeypatch.setattr(exporter, "export_archive", slow_export)
    run_jobs()
    assert len(set(seen[:10])) > 2, "renewed while checkpoints came"
    assert seen[-2] == seen[-1], "not renewed while stuck"
    assert Job.objects.get(id=job.id).status == "done"


@pytest.mark.django_db(transaction=True)
def test_a_lost_lease_stops_the_job_at_its_next_checkpoint(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _queued(account)
    monkeypatch.setattr(worker, "RENEW_EVERY", 0.05)

    def taken_over(claimed: Job, *, checkpoint: Any) -> tuple[int, dict[str, int]]:
        Job.objects.filter(id=claimed.id).update(worker="another")  # it stalled; another took it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            checkpoint()
            time.sleep(0.02)
        raise AssertionError("the checkpoint never stopped the job")

    monkeypatch.setattr(exporter, "export_archive", taken_over)
    run_jobs()
    kept = Job.objects.get(id=job.id)
    assert (kept.status, kept.worker) == ("running", "another"), "the other worker's job is left alone"


@pytest.mark.django_db(transaction=True)
def test_in_process_mode_runs_the_job_after_the_response(account: Account, settings: Any) -> None:
    """PORTABILITY_RUN_IN_PROCESS (make run): no worker process; a thread of the server runs
    the job once the request's transaction committed."""
    settings.PORTABILITY_RUN_IN_PROCESS = True
    started = ok(account.client.post("/v1/users/me/export"), 202)
    deadline = time.monotonic() + 30
    while ok(account.client.get(f"/v1/users/me/export/{started['id']}"))["status"] != "done":
        assert time.monotonic() < deadline, "the in-process thread never finished the export"
        time.sleep(0.1)


@pytest.mark.django_db
def test_the_worker_touches_its_liveness_file(tmp_path: Any) -> None:
    beat = tmp_path / "alive"
    runner = worker.Worker(heartbeat=str(beat))
    runner.run(once=True)
    assert beat.exists()
    before = beat.stat().st_mtime_ns
    time.sleep(0.01)
    runner.beat(force=True)
    assert beat.stat().st_mtime_ns > before
