"""Running gunicorn the way the container does, for the deploy tests (the runner is the shared
one: scripts/services/gunicorn.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scripts.services import Gunicorn


@contextmanager
def gunicorn(command: list[str], env: Mapping[str, str], port: int, log: Path) -> Iterator[Gunicorn]:
    """`command` launched on `port`; killed (with its workers) when the block ends."""
    with Gunicorn(env, log, port=port, command=command).launch() as server:
        yield server


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
