"""Measure 14 (issue 18): from a committed push to the event at a connected client, with many idle
streams open on the events process.

An events process (`manage.py events`, uvicorn, as the events pods run it) beside the bench's
gunicorn, both on the bench's Redis. One watcher stream; idle streams of other accounts (one
account each, so the process holds one Redis channel per stream, the worst case for its
subscription) at 0, 100 and 1,000. For each level, PUSHES pushes of one note, one after another,
through gunicorn: the latency is from sending the push to reading its `changed` event on the
watcher stream. It includes the push itself (its commit comes before its answer), so the push's
own round trip is measured beside it, in the same requests, as the baseline: ratio = event p50
/ push-answer p50 (about 1: the event arrives as the push is answered). The target is the issue's:
p99 <= 100 ms with 1,000 idle streams.

Then the ceiling: idle streams opened in batches (up to CEILING_MAX, the client's descriptors
allowing) until one is refused or fails, with the events process's RSS after each batch: memory
per stream = (RSS at the ceiling - RSS with none) / streams, and a final latency sample there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from . import seed
from .measures import Context, _check

PUSHES = 200
PUSHES_QUICK = 50
LEVELS = (0, 100, 1000)
CEILING_BATCH = 1000
CEILING_MAX = 12000
CEILING_MAX_QUICK = 3000


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    """An SSE connection over asyncio streams (the body is chunked; events are parsed from it)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, token: str) -> Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                "GET /v1/sync/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            writer.close()
            raise ConnectionRefusedError(status.decode().strip())
        while await reader.readline() not in (b"\r\n", b""):
            pass
        stream = cls(reader, writer)
        await stream.event("changed")  # the current position: the stream is live
        return stream

    async def event(self, name: str) -> dict[str, Any]:
        """The next event called `name` (chunk-size lines, `retry:` and comments skipped)."""
        current = None
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("stream ended")
            if line.startswith(b"event: "):
                current = line[7:].strip().decode()
            elif line.startswith(b"data: ") and current == name:
                data: dict[str, Any] = orjson.loads(line[6:])
                return data

    def close(self) -> None:
        self.writer.close()


class Pusher:
    """Pushes through gunicorn, a connection each (its sync workers close after each answer)."""

    def __init__(self, port: int, user: seed.BenchUser) -> None:
        self.port = port
        self.user = user

    async def push(self, index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = orjson.dumps(
            {
                "ops": [
                    {
                        "op_id": f"live-{uuid.uuid4().hex}",
                        "type": "note",
                        "action": "upsert",
                        "id": str(uuid.uuid4()),
                        "base_version": 0,
                        "fields": {"title": f"live {index}"},
                    }
                ]
            }
        )
        head = (
            f"POST /v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {self.user.token()}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.close()
        if b" 200 " not in status:
            raise RuntimeError(f"push: {status!r}")


async def _sample(watcher: Stream, pusher: Pusher, count: int) -> tuple[list[float], list[float]]:
    """(push sent -> event read, push sent -> push answered), in ms, `count` times."""
    events, answers = [], []
    for index in range(count):
        started = time.perf_counter()
        heard = asyncio.ensure_future(watcher.event("changed"))
        await pusher.push(index)
        answered = time.perf_counter()
        await asyncio.wait_for(heard, 10)
        events.append((time.perf_counter() - started) * 1000)
        answers.append((answered - started) * 1000)
    return events, answers


async def _open_many(port: int, users: list[seed.BenchUser], streams: list[Stream]) -> str | None:
    """Open a stream per user (64 at a time); the first refusal or failure, if any."""
    for start in range(0, len(users), 64):
        batch = users[start : start + 64]
        results = await asyncio.gather(
            *(Stream.open(port, user.token()) for user in batch), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                return f"{type(result).__name__}: {result}"
            streams.append(result)
    return None


def measure_live_events(ctx: Context) -> dict[str, Any]:
    from scripts.services import Gunicorn, executable, free_port

    quick = ctx.scale.quick
    pushes = PUSHES_QUICK if quick else PUSHES
    ceiling_max = CEILING_MAX_QUICK if quick else CEILING_MAX
    # The client holds one descriptor per stream, as the server does.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ceiling_max = min(ceiling_max, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
    watcher_user = seed.make_user("live-watch")
    idle_users = [seed.make_user(f"live-idle{index}") for index in range(ceiling_max)]
    port = free_port()
    env = {
        **ctx.app.env,
        "PORT": str(port),
        "EVENTS_MAX_CONNECTIONS": str(ceiling_max + 10),
        "EVENTS_HEARTBEAT_SECONDS": "20",
    }
    events_process = Gunicorn(
        env,
        ctx.workdir / "events.log",
        port=port,
        command=[executable("python"), "manage.py", "events", "--host", "127.0.0.1", "--port", str(port)],
    )
    events_process.launch().wait_serving(workers=0)
    pid = events_process.pid
    levels: dict[int, dict[str, float]] = {}
    ceiling: dict[str, Any] = {}

    async def run() -> None:
        idle: list[Stream] = []
        watcher = await Stream.open(port, watcher_user.token())
        pusher = Pusher(ctx.app.port, watcher_user)
        await _sample(watcher, pusher, 10)  # warm both processes
        rss_empty = _rss_mib(pid)
        for level in LEVELS:
            refused = await _open_many(port, idle_users[len(idle) : level], idle)
            if refused:
                raise RuntimeError(f"opening {level} idle streams: {refused}")
            await asyncio.sleep(1)
            event_ms, answer_ms = await _sample(watcher, pusher, pushes)
            levels[level] = {
                "event_p50": statistics.median(event_ms),
                "event_p99": _percentile(event_ms, 0.99),
                "answer_p50": statistics.median(answer_ms),
                "answer_p99": _percentile(answer_ms, 0.99),
            }
            ctx.log(f"  {level} idle streams: {levels[level]}")
        refused = None
        while len(idle) < ceiling_max and refused is None:
            target = min(ceiling_max, len(idle) + CEILING_BATCH)
            refused = await _open_many(port, idle_users[len(idle) : target], idle)
            ctx.log(f"  ceiling: {len(idle)} idle streams, events RSS {_rss_mib(pid):.0f} MiB")
        await asyncio.sleep(1)
        event_ms, _ = await _sample(watcher, pusher, min(pushes, 50))
        rss_full = _rss_mib(pid)
        ceiling.update(
            streams=len(idle) + 1,
            refused=refused,
            rss_empty_mib=round(rss_empty, 1),
            rss_full_mib=round(rss_full, 1),
            kib_per_stream=round((rss_full - rss_empty) * 1024 / max(len(idle), 1), 1),
            event_p50=statistics.median(event_ms),
            event_p99=_percentile(event_ms, 0.99),
        )
        watcher.close()
        for stream in idle:
            stream.close()

    try:
        asyncio.run(run())
    finally:
        events_process.stop()
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    figures: list[dict[str, Any]] = []
    for level, figure in levels.items():
        figures += [
            {
                "label": f"push sent → event read, p50 / p99, {level:,} idle streams",
                "value": f"{figure['event_p50']:.1f} / {figure['event_p99']:.1f}",
                "unit": "ms",
            },
            {
                "label": f"baseline: push sent → push answered, p50 / p99, {level:,} idle",
                "value": f"{figure['answer_p50']:.1f} / {figure['answer_p99']:.1f}",
                "unit": "ms",
            },
        ]
    figures += [
        {
            "label": "streams held (ceiling of this run)",
            "value": ceiling["streams"],
            "unit": "",
            "refused": ceiling["refused"],
        },
        {
            "label": f"p50 / p99 at {ceiling['streams']:,} streams",
            "value": f"{ceiling['event_p50']:.1f} / {ceiling['event_p99']:.1f}",
            "unit": "ms",
        },
        {
            "label": "events process RSS, none → ceiling",
            "value": f"{ceiling['rss_empty_mib']} → {ceiling['rss_full_mib']}",
            "unit": "MiB",
        },
        {"label": "memory per stream", "value": ceiling["kib_per_stream"], "unit": "KiB"},
    ]
    at_1000 = levels[1000]
    ratio = {
        f"{level} idle": round(figure["event_p50"] / figure["answer_p50"], 3)
        for level, figure in levels.items()
    }
    return {
        "id": 14,
        "title": "Live sync: committed push → event at a connected client (SSE), with idle streams open",
        "figures": figures,
        "ratio": ratio,
        "checks": [
            _check(
                "p99 push → event, 1,000 idle streams",
                round(at_1000["event_p99"], 1),
                "<= 100 ms",
                at_1000["event_p99"] <= 100,
            ),
            _check(
                "event p50 / push-answer p50, 1,000 idle",
                ratio["1000 idle"],
                "<= 1.5",
                ratio["1000 idle"] <= 1.5,
                aim=True,
            ),
        ],
        "runs": {
            "pushes": pushes,
            "levels": levels,
            "ceiling": ceiling,
            "fd_limit": os.sysconf("SC_OPEN_MAX"),
        },
    }
