"""gunicorn serving the app as a pod runs it (exampleapp/gunicorn.conf.py) on a loopback port:
the one runner of the bench, the drills and the deploy tests."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from .common import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def executable(name: str) -> str:
    """A container command (`gunicorn`, `python`) resolved to this virtualenv's copy."""
    local = VENV_BIN / name
    return str(local) if local.exists() else name


def get(
    port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat (utime, stime); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Gunicorn:
    """One gunicorn master and its workers. `launch()` starts it; `wait_serving()` waits until
    `/healthz` answers 200 (the first answer counts: gunicorn serves only after Django loaded)
    with enough workers; `start()` does both."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        port: int | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.log_path = log_path
        self.command = list(command or [executable("gunicorn"), "--config", "exampleapp/gunicorn.conf.py"])
        if command is None:
            self.command.append("exampleapp.wsgi:application")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> Gunicorn:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # stop() can kill the whole group
            )
        return self

    def wait_serving(self, path: str = "/healthz", *, timeout: float = 60.0, workers: int = 1) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            try:
                status, body = get(self.port, path, {"Host": f"127.0.0.1:{self.port}"}, timeout=2)
            except OSError:  # not listening yet
                time.sleep(0.1)
                continue
            if status != 200:
                raise RuntimeError(f"{path} -> {status}: {body[:300]!r}\n{self.tail()}")
            if len(self.worker_pids()) >= workers:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"gunicorn did not serve {path} with {workers} workers in {timeout}s:\n{self.tail()}"
        )

    def start(self, *, timeout: float = 60.0, workers: int = 1) -> None:
        self.launch().wait_serving(timeout=timeout, workers=workers)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def pids(self) -> list[int]:
        return [self.pid, *self.worker_pids()] if self.process is not None else []

    def cpu(self) -> float:
        """CPU seconds the current workers have used."""
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM to the master, as the kubelet sends it after preStop; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop it whatever state it is in: SIGTERM, then SIGKILL to the whole group."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def events_process(env: dict[str, str], log_path: Path, port: int) -> Gunicorn:
    """The events process (`manage.py events`: uvicorn, the live stream) as its pods run it, on
    `port`; not started yet (`.launch().wait_serving(workers=0)`)."""
    return Gunicorn(
        {**env, "PORT": str(port)},
        log_path,
        port=port,
        command=[executable("python"), "manage.py", "events", "--host", "127.0.0.1", "--port", str(port)],
    )
