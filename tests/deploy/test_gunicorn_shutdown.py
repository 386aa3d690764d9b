"""SIGTERM lets in-flight requests finish (DESIGN §4).

gunicorn runs with exampleapp/gunicorn.conf.py and production settings, as in the container;
several slow requests are held in flight, the master gets SIGTERM (what the kubelet sends after
the preStop delay), and every request must still complete with 200 and gunicorn exit with 0.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from scripts.services import executable, free_port, get
from tests.deploy.servers import gunicorn, production_env

IN_FLIGHT = 4
SLOW_SECONDS = 3.0


def outcome(future: Future[tuple[int, bytes]]) -> tuple[int | str, bytes]:
    try:
        return future.result()
    except OSError as exc:  # a request cut off by the shutdown
        return repr(exc), b""


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    port = free_port()
    started = tmp_path / "started"
    started.mkdir()
    env = production_env(
        port,
        GUNICORN_WORKERS=str(IN_FLIGHT),  # sync workers: one request each, all in flight at once
        SLOW_APP_STARTED_DIR=str(started),
        SLOW_APP_SECONDS=str(SLOW_SECONDS),
    )
    command = [
        executable("gunicorn"),
        "--config",
        "exampleapp/gunicorn.conf.py",
        "tests.deploy.slow_app:application",
    ]
    with gunicorn(command, env, port, tmp_path / "gunicorn.log") as server:
        server.wait_serving(timeout=30)
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            futures = [
                pool.submit(get, port, "/__slow", {"Host": "127.0.0.1"}, SLOW_SECONDS + 30)
                for _ in range(IN_FLIGHT)
            ]
            deadline = time.monotonic() + 20
            while len(list(started.iterdir())) < IN_FLIGHT:
                assert time.monotonic() < deadline, f"requests did not start:\n{server.tail()}"
                time.sleep(0.02)
            signalled = time.monotonic()
            exit_status = server.terminate(timeout=SLOW_SECONDS + 30)
            stopped_after = time.monotonic() - signalled
            results = [outcome(future) for future in futures]

    assert [status for status, _ in results] == [200] * IN_FLIGHT, server.tail()
    assert all(json.loads(body) == {"status": "ok"} for _, body in results)
    assert exit_status == 0, server.tail()
    # gunicorn waited for the requests (not killed them), and did not wait for the full
    # graceful timeout (30 s) once they were done.
    assert 0.5 < stopped_after < SLOW_SECONDS + 10, stopped_after
