"""A 300 MB streamed upload through the whole stack (multipart parser, hashing upload handler,
validation, django-storages S3 upload to the real S3 server), with the process's memory growth
measured: it must stay a small, bounded fraction of the file size.

The body is generated while Django reads it (a WSGI input that produces the multipart stream),
so neither the test nor the app ever holds the file. Peak RSS is read from the kernel (VmHWM,
reset through /proc/self/clear_refs just before the request).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from apps.library import storage
from apps.library.models import File
from tests.conftest import Account

from .conftest import object_size
from .factories import MultipartStream, StreamedPdf

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
SIZE = 300 * MIB
BASE_BUDGET = 32 * MIB


def memory_budget() -> int:
    """What the request may add to the process's peak memory, whatever the file size: the
    parser and hashing work in 1 MiB chunks; django-storages hands the temporary file to boto3,
    whose threaded transfer keeps up to `max_concurrency` parts of `multipart_chunksize` in
    flight (plus as many read ahead). Measured here: ~3 MiB without threads, ~140 MiB with
    django-storages' default (10 threads x 8 MiB)."""
    config = getattr(storage.get_storage(), "transfer_config", None)
    if config is None or not getattr(config, "use_threads", True):
        return BASE_BUDGET
    return BASE_BUDGET + 2 * config.max_concurrency * config.multipart_chunksize


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@pytest.mark.parametrize("threads", [True, False], ids=["boto3-threads", "no-threads"])
def test_300_mb_streamed_upload_keeps_memory_bounded(
    account: Account,
    django_capture_on_commit_callbacks: Any,
    record_property: Any,
    settings: Any,
    threads: bool,
) -> None:
    if not threads:  # the STORAGES option recommended in docs/library.md
        default = settings.STORAGES["default"]
        options = {**default["OPTIONS"], "transfer_config": TransferConfig(use_threads=False)}
        settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
    pdf = StreamedPdf(SIZE)
    body = MultipartStream(pdf.chunks(), pdf.size, filename="huge.pdf")
    account.client.get("/v1/files")  # warm up imports and session caches outside the measurement
    gc.collect()
    baseline = _status_kib("VmRSS")
    assert _reset_peak(), "cannot reset the peak RSS counter"
    started = time.monotonic()
    response = account.client.generic(
        "POST",
        "/v1/files",
        content_type=body.content_type,
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.length)},
    )
    elapsed = time.monotonic() - started
    growth = (_status_kib("VmHWM") - baseline) * 1024
    record_property("upload_seconds", round(elapsed, 2))
    record_property("peak_rss_growth_mib", round(growth / MIB, 1))
    print(
        f"\n300 MiB streamed upload: {elapsed:.1f}s, peak RSS growth {growth / MIB:.1f} MiB "
        f"(budget {memory_budget() / MIB:.0f} MiB)"
    )

    assert response.status_code == 201, response.content
    file = response.json()
    assert body.bytes_read == body.length
    assert file["size"] == SIZE
    assert file["sha256"] == pdf.sha256
    assert file["kind"] == "pdf"
    assert file["metadata"]["page_count"] == 1
    assert object_size(file["id"]) == SIZE
    assert growth < memory_budget(), f"memory grew by {growth / MIB:.1f} MiB"
    assert growth < SIZE / 2

    with django_capture_on_commit_callbacks(execute=True):
        assert account.client.delete(f"/v1/files/{file['id']}").status_code == 204
    assert File.objects.get(id=file["id"]).deleted_at is not None
    assert object_size(file["id"]) is None
