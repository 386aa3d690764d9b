"""Running gunicorn the way the container does, for the deploy tests."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class Gunicorn:
    def __init__(self, command: list[str], env: Mapping[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def wait_until_serving(self, path: str = "/healthz", timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            try:
                status, body = get(self.port, path, {"Host": f"127.0.0.1:{self.port}"}, timeout=1)
            except OSError:  # not listening yet
                time.sleep(0.1)
                continue
            # Once it answers, the answer counts: gunicorn serves only after Django loaded.
            assert status == 200, f"{path} -> {status}: {body[:300]!r}\n{self.output()}"
            return
        raise AssertionError(f"gunicorn did not serve {path} within {timeout}s:\n{self.output()}")

    def terminate(self, timeout: float = 40.0) -> int:
        """SIGTERM, as the kubelet sends after preStop; returns gunicorn's exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


@contextmanager
def gunicorn(command: list[str], env: Mapping[str, str], port: int, log: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(command, env, port, log)
    try:
        yield server
    finally:
        server.kill()


def production_env(port: int, **extra: str) -> dict[str, str]:
    """The process environment of a pod: the test services' URLs (from devservices), production
    settings, plain HTTP on loopback."""
    import secrets

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORT": str(port),
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    env.update(extra)
    return env
