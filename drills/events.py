"""The live stream's drills (issue 18): devices hold `GET /v1/sync/events` open on an events
process (`manage.py events`, as the events pods run it) while other devices write through the
API (gunicorn), and a fault hits the stream's side.

- `events_sigterm`: a rolling update of the events pods under load: a new events process starts,
  the Service switches to it, the old one gets SIGTERM. Every device's stream ends (`closing:
  shutdown`), it reconnects to the new process with `Last-Event-ID` and must end knowing the
  feed's last seq: nothing missed.
- `events_redis`: Redis killed, then restarted, under load: every stream must be told
  `fallback` (so its client polls), the API must answer without a 5xx, and after the restart
  every stream must be told `live` and catch up to the feed's last seq.

A device's knowledge is the highest seq its `changed` events carried; the truth is the account's
feed counter on the primary, read once the writes have stopped and the streams had time to
deliver.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.services import Gunicorn, executable, free_port
from scripts.services.sse import Stream

from .client import User, percentile
from .results import DrillResult, Size
from .stack import DrillStack

# After the writes stop, how long a stream may take to deliver the last `changed` (measured in
# milliseconds: docs/benchmarks.md, measure 14); after Redis is back, the events process
# re-reads every connected user's position at once and again ~3 s later (apps/sync/hub.py).
SETTLE_SECONDS = 2.0
REDIS_SETTLE_SECONDS = 6.0


class EventsProcess(Gunicorn):
    """`manage.py events` (uvicorn) on a free port with the drill stack's environment."""

    def __init__(self, root: Path, env: dict[str, str], name: str) -> None:
        port = free_port()
        command = [executable("python"), "manage.py", "events", "--host", "127.0.0.1", "--port", str(port)]
        super().__init__(env, root / f"{name}.log", port=port, command=command)

    def begin(self) -> EventsProcess:
        self.launch()
        self.wait_serving(timeout=60, workers=0)
        return self


class Listener:
    """One device's stream, reconnecting (with `Last-Event-ID`) to wherever `port()` points."""

    def __init__(self, user: User, port: Callable[[], int]) -> None:
        self.user = user
        self.port = port
        self.seen = -1
        self.connects = 0
        self.refusals: list[str] = []
        self.reconnect_gaps: list[float] = []
        # Per stream: seconds from the request to its first event (`changed` or `fallback`: the
        # stream promises one of them at once); None when the stream ended before any.
        self.first_event: list[float | None] = []
        self.events: dict[str, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        ended_at: float | None = None
        while not self.stopping.is_set():
            requested = time.monotonic()
            try:
                stream = Stream(
                    self.port(), self.user.access, last_event_id=self.seen if self.seen >= 0 else None
                )
            except OSError:
                time.sleep(0.05)  # the process being switched to is not listening yet
                continue
            if stream.status != 200:
                self.refusals.append(f"{stream.status} {stream.problem().get('code')}")
                time.sleep(0.2)
                continue
            self.connects += 1
            if ended_at is not None:
                self.reconnect_gaps.append(time.monotonic() - ended_at)
            try:
                self._read(stream, requested)
            finally:
                stream.close()
                ended_at = time.monotonic()

    def _read(self, stream: Stream, requested: float) -> None:
        first = len(self.first_event)
        self.first_event.append(None)
        while not self.stopping.is_set():
            event = stream.next(0.5)
            if event is None:
                if stream.ended:
                    return
                continue
            if self.first_event[first] is None and event.name in ("changed", "fallback"):
                self.first_event[first] = event.at - requested
            self.events[event.name] = self.events.get(event.name, 0) + 1
            if event.name == "changed":
                self.seen = max(self.seen, int(event.data["seq"]))
            elif event.name == "closing":
                return


class Writers:
    """Devices writing notes through the API until stopped; counts what failed."""

    def __init__(self, users: list[User], pause: float = 0.05) -> None:
        self.users = users
        self.pause = pause
        self.written = 0
        self.server_errors: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(u,), daemon=True) for u in users]

    def start(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, user: User) -> None:
        while not self.stopping.is_set():
            reply = user.call("POST", "/v1/notes", {"title": f"event {uuid.uuid4().hex[:8]}"})
            if reply.kind in ("server_error", "cut", "refused"):
                self.server_errors.append(f"{reply.status or reply.kind}")
            elif reply.ok:
                self.written += 1
            time.sleep(self.pause)


def _feed_seq(stack: DrillStack, user: User) -> int:
    """The feed's last seq for this account, from the primary (what the streams must reach)."""
    rows = stack.sql("SELECT last_seq FROM sync_synccounter WHERE owner_id = %s", [user.id])
    return int(rows[0][0]) if rows else 0


def _devices(stack: DrillStack, size: Size, label: str) -> list[User]:
    assert stack.app is not None
    return [User.create(stack.app.port, label) for _ in range(size.threads)]


def _first_event_note(listeners: list[Listener]) -> str:
    """How long new streams waited for their first event (the stream promises it at once)."""
    times = [t for listener in listeners for t in listener.first_event if t is not None]
    never = sum(1 for listener in listeners for t in listener.first_event if t is None)
    return (
        f"first event of a stream: p50 {percentile(times, 0.5) * 1000:.0f} ms, max "
        f"{max(times, default=0) * 1000:.0f} ms over {len(times)} streams ({never} ended or were "
        "stopped before any)"
    )


def _slow_first_events(listeners: list[Listener], bound: float = 2.0) -> int:
    return sum(1 for listener in listeners for t in listener.first_event if t is not None and t > bound)


def _behind(stack: DrillStack, listeners: list[Listener]) -> list[str]:
    behind = []
    for listener in listeners:
        truth = _feed_seq(stack, listener.user)
        if listener.seen != truth:
            behind.append(f"{listener.user.email}: saw {listener.seen}, feed at {truth}")
    return behind


# --- 10. SIGTERM to the events process during load -------------------------------------------
def events_sigterm(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("events_sigterm", "SIGTERM to the events process during load")
    users = _devices(stack, size, "events-term")
    old = EventsProcess(stack.root, stack.env, "events-old").begin()
    service: dict[str, Any] = {"port": old.port}
    listeners = [Listener(u, lambda: service["port"]).start() for u in users for _ in range(2)]
    writers = Writers(users).start()
    new: EventsProcess | None = None
    try:
        time.sleep(size.phase)
        new = EventsProcess(stack.root, stack.env, "events-new").begin()
        service["port"] = new.port  # the old pod leaves the Service's endpoints, then SIGTERM
        signalled = time.monotonic()
        status = old.terminate(timeout=60)
        exited = time.monotonic() - signalled
        time.sleep(size.phase)
        writers.stop()
        time.sleep(SETTLE_SECONDS)
        behind = _behind(stack, listeners)
    finally:
        writers.stop()
        for listener in listeners:
            listener.stop()
        old.stop()
        if new is not None:
            new.stop()
    gaps = [gap for listener in listeners for gap in listener.reconnect_gaps]
    moved = sum(1 for listener in listeners if listener.connects >= 2)
    result.zero("streams behind the feed at the end", len(behind))
    result.zero("streams that never reconnected", len(listeners) - moved)
    result.zero("API 5xx during the drill", len(writers.server_errors))
    result.zero("streams whose first event took over 2 s", _slow_first_events(listeners))
    result.notes += [
        _first_event_note(listeners),
        f"{len(listeners)} streams on {len(users)} accounts, {writers.written} notes written; the old "
        f"process stopped {exited:.1f}s after SIGTERM (status {status}: uvicorn re-raises the signal "
        "once its graceful shutdown is done)",
        f"reconnect gap p50 {percentile(gaps, 0.5) * 1000:.0f} ms, max {max(gaps, default=0) * 1000:.0f} ms "
        f"({len(gaps)} reconnects); refusals: {sum(len(x.refusals) for x in listeners)}",
        *behind[:3],
    ]
    if behind and new is not None:
        result.notes.append(f"events process log: {new.tail(3000)}")
    return result


# --- 11. Redis killed, then restarted, while streams are open --------------------------------
def events_redis(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("events_redis", "Redis killed, then restarted, under open streams")
    users = _devices(stack, size, "events-redis")
    events = EventsProcess(stack.root, stack.env, "events-redis").begin()
    listeners = [Listener(u, lambda: events.port).start() for u in users for _ in range(2)]
    writers = Writers(users).start()
    try:
        time.sleep(size.phase)
        stack.services.kill_redis()
        time.sleep(max(size.phase, 5.0))  # the hub calls Redis lost after ~3 s of silence
        told_fallback = sum(1 for listener in listeners if listener.events.get("fallback"))
        stack.services.start_redis()
        time.sleep(size.phase)
        writers.stop()
        time.sleep(REDIS_SETTLE_SECONDS)
        told_live = sum(1 for listener in listeners if listener.events.get("live"))
        behind = _behind(stack, listeners)
    finally:
        writers.stop()
        for listener in listeners:
            listener.stop()
        events.stop()
    result.zero("streams not told `fallback` while Redis was down", len(listeners) - told_fallback)
    result.zero("streams not told `live` after the restart", len(listeners) - told_live)
    result.zero("streams behind the feed at the end", len(behind))
    result.zero("API 5xx during the drill", len(writers.server_errors))
    result.zero("streams whose first event took over 2 s", _slow_first_events(listeners))
    result.notes += [
        _first_event_note(listeners),
        f"{len(listeners)} streams on {len(users)} accounts, {writers.written} notes written",
        *behind[:3],
        *writers.server_errors[:3],
    ]
    if behind:
        result.notes.append(f"events process log: {events.tail(3000)}")
    return result
