"""`make web-budgets`: the web client's budgets (web/scripts/budgets.mjs) against the local
stack: run inside scripts/devservices.py, it migrates, collects the static files and serves the
app under gunicorn with production settings, as the image does, then measures and stops."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.services import Gunicorn, executable, free_port

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    notes = argv[0] if argv else "10000"
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_ROOT": str(Path(scratch) / "static"),
            "LOG_LEVEL": "WARNING",
        }
        for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
            subprocess.run([executable("python"), "manage.py", *command], cwd=ROOT, env=env, check=True)
        server = Gunicorn(env, Path(scratch) / "gunicorn.log", port=port)
        try:
            server.start(timeout=90)
            budgets = ["node", "scripts/budgets.mjs", server.base, notes]
            return subprocess.run(budgets, cwd=ROOT / "web").returncode
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
