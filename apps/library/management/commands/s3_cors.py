"""Give the bucket the CORS rule the web client needs (S3_CORS_ORIGINS): the page reads file
bytes from presigned URLs and PUTs direct-upload parts, both cross-origin. Idempotent; run by
the migrate Job on each deployment (docs/operations.md, "S3 and the browser")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.library import storage


class Command(BaseCommand):
    help = "Set the bucket's CORS rule for the web client's origins (S3_CORS_ORIGINS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            default=None,
            help="An origin to allow (repeatable); default S3_CORS_ORIGINS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not storage.is_s3():
            self.stdout.write("local storage: no CORS rule needed (the page reads files from its own origin)")
            return
        origins = options["origin"] if options["origin"] is not None else list(settings.S3_CORS_ORIGINS)
        changed = storage.apply_cors(origins)
        allowed = ", ".join(origins) if origins else "none (the rule is removed)"
        self.stdout.write(f"bucket CORS {'updated' if changed else 'unchanged'}: origins {allowed}")
