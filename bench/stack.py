"""The app under test: gunicorn with production settings (+ the bench URLconf), and what the
kernel says about its processes (CPU seconds, resident and peak memory)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def _status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def rss(pid: int) -> int:
    return _status(pid).get("VmRSS", 0)


def peak_rss(pid: int) -> int:
    return _status(pid).get("VmHWM", 0)


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (needs root or the same user)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat (utime, stime); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class App:
    """gunicorn serving exampleapp with the bench settings on a free loopback port."""

    env: dict[str, str]
    log_path: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {**self.env, "PORT": str(self.port)}
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(  # noqa: S603 - our own gunicorn command line
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "exampleapp/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "exampleapp.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            try:
                probe = f"{self.base}/healthz"  # always http://127.0.0.1
                with urllib.request.urlopen(probe, timeout=1) as response:  # noqa: S310
                    if response.status == 200 and len(self.workers()) >= self.expected_workers():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def expected_workers(self) -> int:
        return int(self.env.get("GUNICORN_WORKERS", "2"))

    def workers(self) -> list[int]:
        return children(self.proc.pid) if self.proc is not None else []

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.workers()] if self.proc is not None else []

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
