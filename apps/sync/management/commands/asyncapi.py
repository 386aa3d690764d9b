"""Write the AsyncAPI document of the sync messages (docs/asyncapi.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.sync.asyncapi import render_yaml


class Command(BaseCommand):
    help = "Generate the AsyncAPI 3 document of the sync protocol."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "asyncapi.yaml"))

    def handle(self, *args: Any, **options: Any) -> None:
        Path(options["output"]).write_text(render_yaml())
        self.stdout.write(f"wrote {options['output']}")
