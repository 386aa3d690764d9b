"""`manage.py events`: serve the app under uvicorn (ASGI), as the events Deployment runs it.

The events process exists for GET /v1/sync/events: thousands of open streams in one asyncio
loop, where each would hold a gunicorn sync worker. It serves the whole URLconf (other routes
run in asgiref's worker thread), but the ingress sends it only the stream. `make run` serves
everything with it (`--reload`), so the stream works there too, fanned out in-process.

One process per container: the streams of a process share one Redis subscription, and the pod
count (the HPA) is how the stream scales. On SIGTERM every stream is ended with
`closing: shutdown` first (clients reconnect, with `Last-Event-ID`, to another pod), then
uvicorn's graceful shutdown finishes what is left within `--graceful-timeout`.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import uvicorn
from django.core.management.base import BaseCommand, CommandParser

from apps.sync.hub import hub


class Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: Any) -> None:
        # The signal handler runs in the loop's thread: end the streams first, so uvicorn's
        # graceful wait has only short requests left to finish.
        if hub.loop is not None and not hub.loop.is_closed():
            hub.loop.call_soon_threadsafe(hub.shutdown)
        super().handle_exit(sig, frame)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class Command(BaseCommand):
    help = "Serve the app under uvicorn (ASGI): the events process of the live sync stream."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's server
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("METRICS_PORT") or 0),
            help="second port, serving only /metrics (as gunicorn does: exampleapp/gunicorn.conf.py)",
        )
        parser.add_argument(
            "--graceful-timeout", type=float, default=float(os.environ.get("EVENTS_GRACEFUL_TIMEOUT") or 10)
        )
        parser.add_argument("--reload", action="store_true", help="restart on code changes (make run)")

    def handle(self, *args: Any, **options: Any) -> None:
        common: dict[str, Any] = {
            "lifespan": "off",  # Django has no lifespan handler
            "ws": "none",
            "proxy_headers": True,
            "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            # Longer than the ingress' idle timeout, so the proxy closes idle keep-alives.
            "timeout_keep_alive": int(os.environ.get("GUNICORN_KEEPALIVE") or 75),
            "timeout_graceful_shutdown": options["graceful_timeout"],
            "backlog": 4096,
            "log_config": None,  # Django's LOGGING (JSON lines) formats uvicorn's records too
        }
        if options["reload"]:
            uvicorn.run(
                "exampleapp.asgi:application",
                host=options["host"],
                port=options["port"],
                reload=True,
                reload_dirs=["apps", "exampleapp"],
                **common,
            )
            return
        from exampleapp.asgi import application

        server = Server(uvicorn.Config(application, **common))
        sockets = [_listen(options["host"], options["port"])]
        if options["metrics_port"]:
            sockets.append(_listen(options["host"], options["metrics_port"]))
        server.run(sockets=sockets)
