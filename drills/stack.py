"""The stack the drills break: throwaway services (scripts/devservices.py: PostgreSQL primary +
streaming replica, Redis, S3) and the app under gunicorn with production settings, as a pod runs
it. The database URL names both servers (libpq multi-host, `target_session_attrs=read-write`),
so the app always connects to whichever one is writable.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.services import Gunicorn, Stack, log

ROOT = Path(__file__).resolve().parent.parent


class App(Gunicorn):
    """gunicorn (exampleapp/gunicorn.conf.py, production settings) on a free port, its log in
    the drill's directory (the shared runner: scripts/services/gunicorn.py)."""

    def __init__(self, root: Path, env: Mapping[str, str], name: str = "app") -> None:
        super().__init__(env, root / f"{name}-gunicorn.log")
        self.name = name

    def wait_workers(self, count: int, timeout: float = 30.0) -> None:
        self.wait_serving(timeout=timeout, workers=count)

    def log_text(self) -> str:
        return self.tail(chars=10**9)


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

    def s3_client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env["S3_ENDPOINT_URL"],
            aws_access_key_id=self.env["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["S3_SECRET_ACCESS_KEY"],
            region_name=self.env.get("S3_REGION", "us-east-1"),
        )

    def stop(self, keep: bool = False) -> None:
        for app in [self.app, *self.extra_apps]:
            if app is not None:
                app.stop()
        self.services.stop()
        if keep:
            log(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
