"""After a point-in-time restore of the database: bring back the objects of files that were live
at the restored time but deleted since, from the versions the bucket keeps (its versioning and
lifecycle rule: docs/operations.md, "Library objects"). Safe to run repeatedly."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.library.services import file_objects_restore
from apps.library.storage import is_s3


class Command(BaseCommand):
    help = "Restore deleted objects of the files the database holds as live (versioned S3 bucket)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=uuid.UUID, default=None, help="Only this user's files.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_s3():
            raise CommandError("Object versions exist only in S3 storage; local files have none.")
        report = file_objects_restore(owner_id=options["user"])
        self.stdout.write(
            f"files checked: {report.checked}, objects restored: {report.restored}, "
            f"missing (no version left): {len(report.missing)}"
        )
        for key in report.missing:
            self.stderr.write(f"missing: {key}")
        if report.missing:
            raise CommandError(f"{len(report.missing)} objects could not be restored")
