"""An export and an import of a library several times larger than a multipart part, each run by
the real worker command in a process of its own (`manage.py portability_worker --once`, as the
Deployment runs it), with that process's peak RSS read from the kernel (VmHWM, polled while it
runs: the high-water mark of the process since its exec, so the test process's own memory is not
counted, as wait4's ru_maxrss would after the fork) and compared with the same command's on an
empty queue: the archive streams through, whatever its size. Then SIGTERM: the long-running
worker exits cleanly.

PORTABILITY_MEASURE="<files>x<MiB>" runs it at another size (the figures in docs/export.md)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections

from apps.portability import archive
from apps.portability.models import Job
from tests.conftest import Account
from tests.library import factories
from tests.library.conftest import upload

from .conftest import download, import_archive, ok

pytestmark = pytest.mark.django_db(transaction=True)  # the worker process reads what the test committed
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
FILES, FILE_MIB = (int(n) for n in os.environ.get("PORTABILITY_MEASURE", "6x24").split("x"))
# What the worker may add to its idle footprint: a part being sent (16 MiB) and the next one
# filling, a file chunk (8 MiB), zipfile's and boto3's buffers. Not the archive (FILES x FILE_MIB).
BUDGET = 72 * MIB


def _environment() -> dict[str, str]:
    database = connections["default"].settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "exampleapp.settings.test", "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URLS"):
        env[name] = urlsplit(os.environ[name])._replace(path=f"/{database}").geturl()
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _peak_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)


def _run_worker(log: Path) -> tuple[int, float]:
    """Run the queued jobs in a worker process; its peak RSS (bytes) and its seconds."""
    started = time.monotonic()
    peak = 0
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "portability_worker", "--once"],
            cwd=ROOT,
            env=_environment(),
            stdout=output,
            stderr=output,
        )
        while process.poll() is None:
            peak = max(peak, _peak_kib(process.pid) or 0)
            time.sleep(0.02)
    assert process.returncode == 0, log.read_text()[-3000:]
    return peak * 1024, time.monotonic() - started


def test_a_large_library_streams_through_the_worker(
    make_account: Any, tmp_path: Path, record_property: Any
) -> None:
    log = tmp_path / "worker.log"
    idle, _ = _run_worker(log)
    source: Account = make_account()
    sizes = [FILE_MIB * MIB + n for n in range(FILES)]
    for n, size in enumerate(sizes):
        ok(upload(source.client, factories.StreamedPdf(size).read_all(), f"volume {n}.pdf"), 201)

    export = ok(source.client.post("/v1/users/me/export"), 202)
    exported, export_seconds = _run_worker(log)
    export = ok(source.client.get(f"/v1/users/me/export/{export['id']}"))
    assert export["status"] == "done", (export, log.read_text()[-3000:])
    assert export["size"] > sum(sizes)

    data = download(export["download_url"], source.client)
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.testzip() is None
        assert (
            len([n for n in zipped.namelist() if n.startswith("files/") and not n.endswith(".jsonl")])
            == FILES
        )

    target: Account = make_account()
    started = ok(import_archive(target, data), 202)
    del data
    imported, import_seconds = _run_worker(log)
    assert ok(target.client.get(f"/v1/users/me/import/{started['id']}"))["status"] == "done", log.read_text()[
        -3000:
    ]
    assert sorted(f["size"] for f in ok(target.client.get("/v1/files"))["results"]) == sizes

    figures = {
        "archive_mib": round(export["size"] / MIB, 1),
        "idle_rss_mib": round(idle / MIB, 1),
        "export_rss_mib": round(exported / MIB, 1),
        "export_seconds": round(export_seconds, 1),
        "import_rss_mib": round(imported / MIB, 1),
        "import_seconds": round(import_seconds, 1),
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\n{FILES} files x {FILE_MIB} MiB: {figures}")
    assert exported - idle < BUDGET, figures
    assert imported - idle < BUDGET, figures


def test_sigterm_stops_the_worker_cleanly(tmp_path: Path) -> None:
    heartbeat = tmp_path / "alive"
    env = {**_environment(), "PORTABILITY_WORKER_HEARTBEAT": str(heartbeat)}
    with (tmp_path / "worker.log").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "portability_worker", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
        deadline = time.monotonic() + 60
        while not heartbeat.exists():
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never touched its liveness file"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, (tmp_path / "worker.log").read_text()
    assert not Job.objects.exists()
    assert archive.VERSION == 1
