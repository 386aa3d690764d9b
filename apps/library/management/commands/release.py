"""What a deployment does once before its pods roll (the migrate Job): migrate the database,
then give the bucket the web client's CORS rule (`s3_cors`). Each step is idempotent, so a
re-run Job is harmless; a failure fails the Job, and no pod of the new version starts."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the database, then set the bucket's CORS rule (run by the migrate Job)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, stdout=self.stdout, stderr=self.stderr)
        call_command("s3_cors", stdout=self.stdout, stderr=self.stderr)
