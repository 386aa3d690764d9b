"""The CPU-time limit on checking untrusted files (apps/library/deadline.py): it interrupts the
parsers even through their broad exception handlers, refuses the file with a 415 and a reason,
stores nothing, and leaves no timer or handler behind."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import pytest
from django.test import override_settings

from apps.library import objects, storage
from apps.library.deadline import DeadlineExceeded, armable, cpu_deadline
from apps.library.errors import UnsupportedFileType
from apps.library.inspection import inspect_object
from apps.library.models import File, Upload
from tests.conftest import Account, assert_problem

from . import factories
from .conftest import http, initiate, sha256, upload

pytestmark = pytest.mark.django_db
# 2,000 pages: ~0.2 CPU-seconds of pypdf work here, far above the limits set below.
SLOW_PDF_PAGES = 2000


def _spin(seconds: float) -> None:
    ends = time.process_time() + seconds
    while time.process_time() < ends:
        # What the parsers do around their work: it must not swallow the deadline.
        with contextlib.suppress(Exception):
            sum(range(1000))


def test_deadline_interrupts_through_broad_handlers_and_cleans_up() -> None:
    handler = signal.getsignal(signal.SIGVTALRM)
    with pytest.raises(DeadlineExceeded), cpu_deadline(0.02):
        _spin(1.0)
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGVTALRM) is handler
    with cpu_deadline(1.0):  # enough time: nothing happens
        _spin(0.01)
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


class _SpinsWhenCollected:
    def __del__(self) -> None:
        _spin(0.2)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_deadline_that_python_swallows_still_ends_the_block() -> None:
    """Python swallows an exception raised in a finalizer or a garbage-collector callback (a
    test framework's, a library's): the deadline must hold anyway (seen in the suite: a
    hypothesis gc callback ate the signal and a slow PDF was accepted)."""
    with pytest.raises(DeadlineExceeded), cpu_deadline(0.02):
        _SpinsWhenCollected()  # finalized at once, inside the block: the signal lands in __del__
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


def _collect_then_work() -> None:
    _SpinsWhenCollected()
    _spin(1.0)  # the next signal (the timer repeats) interrupts the work itself


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_deadline_timer_repeats_after_a_swallowed_signal() -> None:
    started = time.process_time()
    with pytest.raises(DeadlineExceeded), cpu_deadline(0.02):
        _collect_then_work()
    assert time.process_time() - started < 0.5  # not the whole second of work


def test_not_armed_off_the_main_thread() -> None:
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(armable()))
    thread.start()
    thread.join()
    assert seen == [False]
    assert armable()


def test_streamed_upload_over_the_limit_is_refused_and_not_stored(account: Account) -> None:
    with override_settings(FILE_INSPECTION_CPU_SECONDS=0.01):
        response = upload(account.client, factories.pdf_bytes(pages=SLOW_PDF_PAGES), "long.pdf")
    assert_problem(response, 415, "unsupported_file_type")
    assert response.json()["reason"] == "inspection_timeout"
    assert not File.objects.filter(owner_id=account.id).exists()
    # The same file within the default limit is fine.
    assert upload(account.client, factories.pdf_bytes(pages=SLOW_PDF_PAGES), "long.pdf").status_code == 201


def test_direct_upload_over_the_limit_fails_and_its_object_is_deleted(account: Account) -> None:
    data = factories.pdf_bytes(pages=SLOW_PDF_PAGES)
    started = initiate(account, data, name="long.pdf")
    assert started.status_code == 201, started.content
    job = started.json()["upload"]
    [part] = job["part_urls"]
    assert http("PUT", part["url"], data)[0] == 200
    with override_settings(FILE_INSPECTION_CPU_SECONDS=0.01):
        done = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    assert_problem(done, 415, "unsupported_file_type")
    assert done.json()["reason"] == "inspection_timeout"
    failed = Upload.objects.get(id=job["id"])
    assert failed.status == Upload.Status.FAILED
    assert objects.object_size(failed.storage_key) is None
    assert not File.objects.filter(owner_id=account.id).exists()


def test_ranged_inspection_over_the_limit_is_refused(account: Account) -> None:
    """The same limit when the checks read the object in S3 by ranges (files above 8 MiB): the
    deadline may strike inside a ranged GET, which must not pass for a storage failure."""
    data = factories.pdf_bytes(pages=SLOW_PDF_PAGES)
    key = storage.new_key(account.id)
    target = storage.s3()
    target.client.put_object(Bucket=target.bucket, Key=target.key(key), Body=data)
    try:
        with (
            override_settings(FILE_INSPECTION_CPU_SECONDS=0.005),
            pytest.raises(UnsupportedFileType) as refused,
        ):
            inspect_object(key, size=len(data), sha256=sha256(data), in_memory_max=0)
        assert refused.value.reason == "inspection_timeout"
    finally:
        storage.delete_objects([key])
