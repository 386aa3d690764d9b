"""Abort direct uploads older than UPLOAD_STALE_HOURS and delete orphan objects under users/
(objects no live file or open upload owns). Safe to run repeatedly (e.g. from a CronJob)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.library.uploads import uploads_cleanup


class Command(BaseCommand):
    help = "Abort stale direct uploads and delete orphan objects in library storage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="Age after which uploads and unowned objects count as stale (default UPLOAD_STALE_HOURS).",
        )
        parser.add_argument(
            "--user", type=uuid.UUID, default=None, help="Only this user's uploads and objects."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"] if options["hours"] is not None else settings.UPLOAD_STALE_HOURS
        report = uploads_cleanup(older_than=timedelta(hours=hours), user_id=options["user"])
        self.stdout.write(
            f"uploads aborted: {report.uploads_aborted}, "
            f"upload rows removed: {report.upload_rows_removed}, "
            f"multipart uploads aborted: {report.multipart_aborted}, "
            f"orphan objects deleted: {report.orphans_deleted}"
        )
        for error in report.errors:
            self.stderr.write(error)
