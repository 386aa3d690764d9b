"""Run export and import jobs (docs/export.md): claim the oldest queued job, run it, repeat.
The cluster runs it as the `portability-worker` Deployment; SIGTERM gives the running job back
to the queue at its next checkpoint and exits."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.portability.worker import Worker, run_forever


class Command(BaseCommand):
    help = "Run export and import jobs until stopped (--once: until none is queued)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run the queued jobs, then exit.")
        parser.add_argument(
            "--poll", type=float, default=2.0, help="Seconds between looks at an empty queue (default 2)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            ran = Worker().run(once=True)
            self.stdout.write(f"jobs run: {ran}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        run_forever(poll=options["poll"], stop=stop)
