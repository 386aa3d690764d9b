"""The cluster's Ingress on this machine: Debian's nginx routing one origin to two processes, as
ingress-nginx does with the two Ingress objects (deploy/kustomize/base/ingress.yaml, events.yaml):
`/v1/sync/events` to the events process (no buffering, hour-long reads: a stream is one long
response), everything else to gunicorn. The browser end-to-end test and `make stack` put the
web client behind it, so the page reaches its live stream at its own origin, as in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from .common import free_port, wait_for_port

CONFIG = """\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_connect_timeout 5s;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2g;
        location /v1/sync/events {{
            proxy_pass http://127.0.0.1:{events};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{api};
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if Path(path).is_file()), None
    )


class Ingress:
    """One nginx on a free loopback port in front of `api_port` and `events_port`."""

    def __init__(self, *, api_port: int, events_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.api_port = api_port
        self.events_port = events_port
        self.root = Path(tempfile.mkdtemp(prefix="exampleapp-ingress-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> Ingress:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is missing: apt-get install nginx-light (.ci/run installs it)")
        self.root.chmod(0o755)
        # As root, nginx's workers would switch to `nobody`, who cannot write the temp dirs here.
        user = "user root root;" if os.geteuid() == 0 else ""
        config = self.root / "nginx.conf"
        config.write_text(
            CONFIG.format(
                root=self.root, user=user, port=self.port, api=self.api_port, events=self.events_port
            )
        )
        self.process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "wb"),  # noqa: SIM115 - the child keeps it
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout, self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.tail()}") from None
        return self

    def tail(self) -> str:
        logs = [self.root / "stderr.log", self.root / "error.log"]
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in logs if path.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # nginx: fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Ingress:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    """`python -m scripts.services.ingress --port P --api A --events E`: one origin in front of
    the two processes until SIGTERM or Ctrl-C (`make stack`)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    args = parser.parse_args()
    ingress = Ingress(api_port=args.api, events_port=args.events, port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: ingress.stop())
    with ingress:
        try:
            assert ingress.process is not None
            ingress.process.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
