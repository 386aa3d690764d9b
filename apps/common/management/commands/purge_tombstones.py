"""Remove soft-deleted rows (tombstones) older than the retention window, for every model that
has a `deleted_at` field. Safe to run repeatedly (e.g. from a CronJob)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Delete tombstones older than TOMBSTONE_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.TOMBSTONE_RETENTION_DAYS
        cutoff = timezone.now() - timedelta(days=days)
        total = 0
        for model in apps.get_models():
            if not any(field.name == "deleted_at" for field in model._meta.concrete_fields):
                continue
            with transaction.atomic(using=router.db_for_write(model)):
                deleted, _ = model._default_manager.filter(deleted_at__lt=cutoff).delete()
            if deleted:
                self.stdout.write(f"{model._meta.label}: {deleted} removed")
            total += deleted
        for hook in settings.TOMBSTONE_PURGE_HOOKS:  # e.g. the sync feed's own tombstones
            removed = import_string(hook)(cutoff=cutoff)
            self.stdout.write(f"{hook}: {removed} removed")
            total += removed
        self.stdout.write(f"purged {total} tombstone rows older than {days} days")
