"""The web client end to end (web/e2e/run.mjs): Debian's Chromium driven by playwright-core
against gunicorn with production settings on the real services — the collected static files
(whitenoise, hashed names), the page's Content-Security-Policy, the API on PostgreSQL, Redis
and S3. Two browser contexts play two devices of one person, one of them offline for a while.

Needs the built client (`npm run build` in web/, which `make test` runs first) and Chromium
(`apt-get install chromium`; .ci/run installs it). The screenshots land in
web/e2e/screenshots/ (git-ignored), to be looked at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections

from scripts.services import Gunicorn, executable, free_port
from scripts.services.gunicorn import events_process
from scripts.services.ingress import Ingress
from tests.deploy.servers import production_env
from tests.web import reader_files

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def _chromium() -> str:
    """Debian's chromium, or the browser CHROMIUM names (CI's preinstalled Chrome)."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    return found


def _database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [executable("python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_the_web_client_end_to_end(transactional_db: Any, tmp_path: Path) -> None:
    if not (WEB / "dist" / "manifest.json").is_file():
        pytest.fail("web/dist is missing: `make test` builds the client (cd web && npm run build)")
    if not (WEB / "node_modules" / ".package-lock.json").is_file():
        pytest.fail("web/node_modules is missing: `make test` installs it (npm ci)")
    chromium = _chromium()
    database = connections["default"].settings_dict["NAME"]  # the test database, committed to
    port = free_port()
    env = production_env(
        port,
        STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=_database(os.environ["DATABASE_URL"], database),
        DATABASE_REPLICA_URLS=_database(os.environ["DATABASE_REPLICA_URLS"], database),
        GUNICORN_WORKERS="2",
        SECURE_HSTS_SECONDS="0",
        # Access tokens short enough to expire during the run: the client refreshes (rotating
        # the refresh token) several times and must stay signed in.
        ACCESS_TOKEN_SECONDS="40",
        # The smallest part S3 takes: the library's 5.5 MiB test PDF goes up in two parts, so
        # the e2e can cut a direct upload after the first and resume it (web/e2e/library.mjs).
        DIRECT_UPLOAD_PART_BYTES=str(5 * 1024 * 1024),
        LOG_LEVEL="WARNING",  # gunicorn's access log still says which refreshes happened
    )
    # The image's steps: collect (and hash, compress) the static files, then serve.
    _manage(env, "collectstatic", "--noinput", "-v0")
    # The cluster's shape: gunicorn (the API) and the events process (the live stream) behind
    # one ingress, so the page reaches /v1/sync/events at its own origin.
    events_port = free_port()
    ingress = Ingress(api_port=port, events_port=events_port)
    # The deployment's other step: the bucket lets this page read presigned downloads and PUT
    # direct-upload parts (the migrate Job runs it in the cluster).
    _manage(env, "s3_cors", f"--origin={ingress.base}")
    files = reader_files.write(tmp_path / "files")
    server = Gunicorn(env, tmp_path / "gunicorn.log", port=port)
    events = events_process({**env, "METRICS_PORT": ""}, tmp_path / "events.log", events_port)
    try:
        server.start(timeout=90)
        events.launch().wait_serving(timeout=60, workers=0)
        ingress.start()
        run = subprocess.run(
            ["node", "e2e/run.mjs", ingress.base],
            cwd=WEB,
            # The readers' files (a 48-page PDF, an EPUB, an image), made for this run.
            env={**os.environ, "CHROMIUM": chromium, "E2E_FILES": str(files)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        logs = "\n".join(
            f"--- {name}:\n{tail}"
            for name, tail in (
                ("server", server.tail()),
                ("events", events.tail()),
                ("ingress", ingress.tail()),
            )
        )
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{logs}"
        assert "e2e passed" in run.stdout
        log = (tmp_path / "gunicorn.log").read_text()
        refreshes = [line for line in log.splitlines() if '"path": "/v1/auth/token/refresh"' in line]
        assert refreshes, "the client never refreshed its access token"
        assert all('"status": 200' in line for line in refreshes), refreshes  # never a reuse
    finally:
        ingress.stop()
        events.__exit__(None, None, None)
        server.stop()
