"""The stack the drills break: throwaway services (scripts/devservices.py: PostgreSQL primary +
streaming replica, Redis, S3) and the app under gunicorn with production settings, as a pod runs
it. The database URL names both servers (libpq multi-host, `target_session_attrs=read-write`),
so the app always connects to whichever one is writable.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.devservices import Stack, free_port, log

from . import client

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _executable(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else name


class App:
    """gunicorn (exampleapp/gunicorn.conf.py, production settings) on a free port."""

    def __init__(self, root: Path, env: Mapping[str, str], name: str = "app") -> None:
        self.root = root
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.name = name
        self.log_path = root / f"{name}-gunicorn.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        logfile = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                _executable("gunicorn"),
                "--config",
                "exampleapp/gunicorn.conf.py",
                "exampleapp.wsgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logfile.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            reply = client.request(self.port, "GET", "/healthz", timeout=2)
            if reply.status == 200 and len(self.worker_pids()) >= 1:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not serve within {timeout}s:\n{self.tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.process.pid:
                pids.append(int(entry.name))
        return pids

    def wait_workers(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.worker_pids()) >= count and client.request(self.port, "GET", "/healthz").ok:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn has not {count} workers after {timeout}s")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM to the master, as the kubelet sends it; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def app_env(services: Stack, database_url: str, replica_urls: str, **extra: str) -> dict[str, str]:
    """A pod's environment: production settings, the services' URLs, plain HTTP on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(services.env())
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "DATABASE_REPLICA_URLS": replica_urls,
            # Every drill client comes from 127.0.0.1: the per-IP sign-in ceiling is for the
            # internet, not for one load generator.
            "AUTH_IP_RATE": "1000000/hour",
            # The lag drill keeps a paused replica in service on purpose, so that only the
            # read-your-writes pins stand between a writer and a stale read.
            "REPLICA_MAX_LAG_SECONDS": "3600",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_GRACEFUL_TIMEOUT": "30",
        }
    )
    env.update(extra)
    return env


def migrate(env: Mapping[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")


def manage(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class DrillStack:
    """Services + the app; `start()` then the drills, `stop()` whatever happens."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="exampleapp-drills-"))
        os.chmod(self.root, 0o755)
        self.services = Stack(self.root)
        self.pg = self.services.pg
        self.env: dict[str, str] = {}
        self.app: App | None = None
        self.extra_apps: list[App] = []

    def start(self) -> None:
        started = time.monotonic()
        self.services.start()
        self.env = app_env(
            self.services,
            database_url=self.pg.multi_host_url(),
            replica_urls=self.pg.url(self.pg.replica_port),
        )
        migrate(self.env)
        self.app = App(self.root, self.env)
        self.app.start()
        log(f"drill stack up in {time.monotonic() - started:.1f}s (app on port {self.app.port})")

    def restart_app(self) -> App:
        if self.app is not None:
            self.app.stop()
        self.app = App(self.root, self.env, name=f"app{len(self.extra_apps) + 2}")
        self.extra_apps.append(self.app)
        self.app.start()
        return self.app

    def database_conninfo(self) -> str:
        return self.env["DATABASE_URL"]

    def sql(self, query: str, params: Any = None, conninfo: str | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(
            conninfo or self.database_conninfo(), connect_timeout=5, autocommit=True
        ) as conn:
            return list(conn.execute(query, params).fetchall())

    def stop(self, keep: bool = False) -> None:
        for app in [self.app, *self.extra_apps]:
            if app is not None:
                app.stop()
        self.services.stop()
        if keep:
            log(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
