"""Throwaway real services for tests, the bench, the drills and the local production-like stack
(`python scripts/devservices.py run -- COMMAND` starts them; see that file)."""

from .common import APP_PASSWORD, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, free_port, log, wait_for_port
from .gunicorn import Gunicorn, executable, get
from .postgres import Postgres, pg_bin
from .samples import pdf_bytes
from .stack import Stack, run

__all__ = [
    "APP_PASSWORD",
    "S3_ACCESS_KEY",
    "S3_BUCKET",
    "S3_SECRET_KEY",
    "Gunicorn",
    "Postgres",
    "Stack",
    "executable",
    "free_port",
    "get",
    "log",
    "pdf_bytes",
    "pg_bin",
    "run",
    "wait_for_port",
]
