"""The live stream across processes, against the real services: an API process (gunicorn, as
the web pods run it) and an events process (`manage.py events`, uvicorn, as the events pods
run it) on the test database and on a Redis of their own (so it can be killed).

- A write through the API process reaches a client connected to the events process.
- A client that was away reconnects with Last-Event-ID and hears at once that the feed moved
  (and nothing when it did not).
- A revoked session's stream is ended promptly (`closing: session_ended`).
- Redis killed: every stream is told `fallback`, the API answers without a 5xx, a new stream
  is told `fallback` too; Redis back: `live`, and a `changed` for what was written meanwhile.
- The limits answer problem+json with their codes; SIGTERM ends streams with `closing: shutdown`.
Every event read is validated against the AsyncAPI document.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.db import connections

from apps.sync.asyncapi import EVENT_COMPONENTS, document
from scripts.services import Gunicorn, Stack, executable, free_port
from scripts.services.gunicorn import events_process
from scripts.services.sse import Event, Stream
from tests.conftest import PASSWORD
from tests.deploy.servers import production_env

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

PROMPT_S = 1.0  # generous: measured figures are milliseconds (docs/sync.md, bench measure 14)


@dataclass
class Pods:
    api: Gunicorn
    events: Gunicorn
    redis_service: Stack


def _url_with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _request(port: int, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        connection.close()


@contextmanager
def _launch(tmp_path: Path, **settings: str) -> Iterator[Pods]:
    """An API process and an events process on the test database and a Redis of their own."""
    database = connections["default"].settings_dict["NAME"]
    service = Stack(tmp_path)  # only its Redis
    service.start_redis()
    common = {
        "SECRET_KEY": secrets.token_urlsafe(64),  # one key: the API's tokens are valid on events
        "DATABASE_URL": _url_with_database(os.environ["DATABASE_URL"], database),
        "DATABASE_REPLICA_URLS": _url_with_database(os.environ["DATABASE_REPLICA_URLS"], database),
        "REDIS_URL": f"redis://127.0.0.1:{service.redis_port}/0",
        "LOG_LEVEL": "WARNING",
        "EVENTS_HEARTBEAT_SECONDS": "1",
        "EVENTS_MAX_PER_USER": "3",
        "EVENTS_MAX_CONNECTIONS": "5",
        **settings,
    }
    api_port, events_port = free_port(), free_port()
    api = Gunicorn(
        production_env(api_port, GUNICORN_WORKERS="1", **common),
        tmp_path / "api.log",
        port=api_port,
        command=[
            executable("gunicorn"),
            "--config",
            "exampleapp/gunicorn.conf.py",
            "exampleapp.wsgi:application",
        ],
    ).launch()
    events = events_process(
        production_env(events_port, **common), tmp_path / "events.log", events_port
    ).launch()
    try:
        api.wait_serving(timeout=60)
        events.wait_serving(timeout=60, workers=0)
        yield Pods(api=api, events=events, redis_service=service)
    finally:
        api.__exit__(None, None, None)
        events.__exit__(None, None, None)
        service.kill_redis()


@pytest.fixture
def pods(transactional_db: Any, tmp_path: Path) -> Iterator[Pods]:
    with _launch(tmp_path) as launched:
        yield launched


def _sign_up(pods: Pods) -> dict[str, str]:
    email = f"events-{secrets.token_hex(4)}@example.org"
    status, body = _request(
        pods.api.port, "POST", "/v1/auth/register", {"email": email, "password": PASSWORD}
    )
    assert status == 201, body
    status, tokens = _request(pods.api.port, "POST", "/v1/auth/token", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return {**tokens, "email": email}


def _note(pods: Pods, token: str, title: str = "n") -> int:
    """Create a note through the API process; the HTTP status."""
    status, body = _request(pods.api.port, "POST", "/v1/notes", {"title": title}, token=token)
    assert status < 500, body
    return status


def _valid(event: Event) -> Event:
    component = EVENT_COMPONENTS[event.name]
    schema = {"$ref": f"#/components/schemas/{component}", "components": document()["components"]}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(event.data))
    assert not errors, [error.message for error in errors]
    return event


def _until(stream: Stream, name: str, timeout: float) -> list[Event]:
    """The events read up to and including the first `name` (each validated)."""
    deadline = time.monotonic() + timeout
    heard: list[Event] = []
    while not heard or heard[-1].name != name:
        event = stream.next(deadline - time.monotonic())
        assert event is not None, f"no `{name}` within {timeout}s (saw {heard})"
        heard.append(_valid(event))
    return heard


def _open(pods: Pods, token: str, last_event_id: int | None = None) -> Stream:
    stream = Stream(pods.events.port, token, last_event_id=last_event_id)
    assert stream.status == 200, stream.problem()
    return stream


def test_a_write_through_the_api_process_reaches_a_stream_on_the_events_process(pods: Pods) -> None:
    tokens = _sign_up(pods)
    stream = _open(pods, tokens["access"])
    first = _valid(stream.wait_for("changed"))
    assert first.data == {"seq": 0}
    assert first.id == 0
    assert stream.retry_ms == 2000
    latencies = []
    for index in range(10):
        started = time.monotonic()
        assert _note(pods, tokens["access"], f"note {index}") == 201
        event = _valid(stream.wait_for("changed", timeout=PROMPT_S * 5))
        latencies.append((event.at - started) * 1000)
        assert event.data == {"seq": index + 1, "types": ["note"]}
        assert event.id == index + 1
    # Idle: heartbeats (1 s here) and nothing else.
    assert stream.next(timeout=2.5) is None
    assert stream.pings >= 2
    median, top = statistics.median(latencies), max(latencies)
    print(f"\n[events] note POST sent -> event read: median {median:.1f} ms, max {top:.1f} ms")
    assert max(latencies) < PROMPT_S * 1000 * 2
    # Another account's writes are not this stream's business.
    other = _sign_up(pods)
    _note(pods, other["access"])
    assert stream.next(timeout=1.5) is None
    stream.close()


def test_reconnecting_with_last_event_id_hears_what_it_missed(pods: Pods) -> None:
    tokens = _sign_up(pods)
    stream = _open(pods, tokens["access"])
    seen = stream.wait_for("changed").data["seq"]
    stream.close()
    for index in range(3):  # written while away
        _note(pods, tokens["access"], f"missed {index}")
    again = _open(pods, tokens["access"], last_event_id=seen)
    event = _valid(again.wait_for("changed", timeout=2))
    assert event.data == {"seq": seen + 3}
    assert event.id == seen + 3
    again.close()
    # Nothing moved since: no event (heartbeats only), until the next write.
    calm = _open(pods, tokens["access"], last_event_id=seen + 3)
    assert calm.next(timeout=1.5) is None
    assert calm.pings >= 1
    _note(pods, tokens["access"])
    assert calm.wait_for("changed").data["seq"] == seen + 4
    calm.close()
    # A malformed Last-Event-ID is a client bug: 400, said plainly.
    connection = http.client.HTTPConnection("127.0.0.1", pods.events.port, timeout=5)
    connection.request(
        "GET",
        "/v1/sync/events",
        headers={"Authorization": f"Bearer {tokens['access']}", "Last-Event-ID": "x"},
    )
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["errors"] == {
        "Last-Event-ID": ["The id of the last event you got (a sequence number), or none."]
    }


def test_a_revoked_session_is_disconnected_promptly(pods: Pods) -> None:
    tokens = _sign_up(pods)
    stream = _open(pods, tokens["access"])
    stream.wait_for("changed")
    time.sleep(0.2)  # the events process's session listener has subscribed by now
    status, _ = _request(pods.api.port, "POST", "/v1/auth/logout", {"refresh": tokens["refresh"]})
    assert status == 204
    answered = time.monotonic()
    event = _valid(stream.wait_for("closing", timeout=PROMPT_S * 3))
    assert event.data == {"reason": "session_ended"}
    print(f"\n[events] logout answered -> stream closed in {(event.at - answered) * 1000:.1f} ms")
    assert event.at - answered < PROMPT_S
    assert stream.next(timeout=2) is None
    assert stream.ended
    again = Stream(pods.events.port, tokens["access"])
    assert again.status == 401
    assert again.problem()["code"] == "authentication_failed"


def test_redis_down_tells_streams_to_poll_and_the_api_keeps_answering(pods: Pods) -> None:
    tokens = _sign_up(pods)
    stream = _open(pods, tokens["access"])
    seq = stream.wait_for("changed").data["seq"]
    pods.redis_service.kill_redis()
    fallback = _valid(stream.wait_for("fallback", timeout=5))
    assert fallback.data == {"poll_seconds": 30, "reason": "bus_unavailable"}
    # The API works on without Redis: writes, reads, pulls, no 5xx.
    for index in range(3):
        assert _note(pods, tokens["access"], f"offline {index}") == 201
    status, page = _request(pods.api.port, "GET", f"/v1/sync/changes?cursor={seq}", token=tokens["access"])
    assert status == 200
    assert len(page["changes"]) == 3
    # A stream opened now is told to poll at once, and where the feed is.
    late = _open(pods, tokens["access"], last_event_id=seq)
    first = [late.next(timeout=3), late.next(timeout=3)]
    assert {event.name: _valid(event).data for event in first if event is not None} == {
        "fallback": {"poll_seconds": 30, "reason": "bus_unavailable"},
        "changed": {"seq": seq + 3},
    }
    # Redis back (empty): `live`, and what was written meanwhile is caught up from the database.
    # (The position may also come before `live`: the database is read on several occasions.)
    pods.redis_service.start_redis()
    heard = _until(stream, "live", timeout=10)
    if not any(event.name == "changed" for event in heard):
        heard.append(stream.wait_for("changed", timeout=5))
    assert [event.data for event in heard if event.name == "changed"] == [{"seq": seq + 3}]
    _until(late, "live", timeout=10)
    # A write now: published, or (if the API process's Redis circuit breaker is still open, for
    # REDIS_RETRY_SECONDS after the outage) read by the catch-up that follows that window.
    _note(pods, tokens["access"])
    assert stream.wait_for("changed", timeout=6).data["seq"] == seq + 4
    assert late.wait_for("changed", timeout=6).data["seq"] == seq + 4
    stream.close()
    late.close()


def test_limits_answer_problem_json_and_sigterm_ends_streams_first(pods: Pods) -> None:
    one, two = _sign_up(pods), _sign_up(pods)
    streams = [_open(pods, one["access"]) for _ in range(3)]
    refused = Stream(pods.events.port, one["access"])
    assert refused.status == 429
    problem = refused.problem()
    assert problem["code"] == "too_many_streams"
    assert problem["status"] == 429
    streams += [_open(pods, two["access"]) for _ in range(2)]
    full = Stream(pods.events.port, two["access"])
    assert full.status == 503
    assert full.getheader("Retry-After") == "5"
    assert full.problem()["code"] == "events_full"
    streams.pop().close()  # a place frees up once a stream ends
    deadline = time.monotonic() + 5
    while True:
        retry = Stream(pods.events.port, two["access"])
        if retry.status == 200 or time.monotonic() > deadline:
            break
        retry.problem()
        time.sleep(0.1)
    assert retry.status == 200
    streams.append(retry)
    # The API process refuses to hold a stream (a WSGI worker would be stuck with it).
    status, body = _request(pods.api.port, "GET", "/v1/sync/events", token=one["access"])
    assert status == 503
    assert body["code"] == "events_unavailable"
    # SIGTERM: every stream is told `closing: shutdown` and ended, then the process exits.
    for stream in streams:
        stream.wait_for("changed")
    os.kill(pods.events.pid, signal.SIGTERM)
    for stream in streams:
        assert _valid(stream.wait_for("closing", timeout=5)).data == {"reason": "shutdown"}
    # uvicorn re-raises the signal once it has shut down: "killed by SIGTERM", as a pod expects.
    assert pods.events.process is not None
    assert pods.events.process.wait(timeout=15) in (0, -signal.SIGTERM)


@dataclass
class Opened:
    headers: float  # seconds from the request to the response's headers
    first: float | None  # then to the first `changed` (None: none came)
    before: list[str]  # the events that came before it


def _open_and_time(port: int, token: str, timeout: float) -> Opened:
    started = time.monotonic()
    stream = Stream(port, token, timeout=timeout)
    opened = time.monotonic()
    assert stream.status == 200, stream.problem()
    before: list[str] = []
    try:
        while True:
            event = stream.next(timeout=max(0.0, opened + timeout - time.monotonic()))
            if event is None:
                return Opened(opened - started, None, before)
            if event.name == "changed":
                _valid(event)
                return Opened(opened - started, event.at - opened, before)
            before.append(event.name)
    finally:
        stream.close()


def _burst(pods: Pods, users: list[dict[str, str]], per_user: int) -> list[Opened]:
    """Open `per_user` streams for each user at once, each timed to its first `changed`."""
    document()  # built here once: drf-spectacular's generator is not safe to start in threads
    results: list[Opened] = []
    lock = threading.Lock()

    def one(token: str) -> None:
        outcome = _open_and_time(pods.events.port, token, timeout=12)
        with lock:
            results.append(outcome)

    tokens = [user["access"] for user in users for _ in range(per_user)]
    threads = [threading.Thread(target=one, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(threads)  # a thread that failed said why above
    return results


# Issue 18: a new stream's first `changed` waited on Redis (the subscription of its account's
# channel, the hub's liveness) and on asgiref's shared thread (where requests' cache calls wait
# on an unresponsive Redis), where the stream promises it at once.
FIRST_EVENT_S = 2.0  # generous: measured, it comes within milliseconds of the headers


def _check(label: str, results: list[Opened]) -> None:
    """Every stream's first event is its `changed`, within FIRST_EVENT_S of its headers."""
    firsts = sorted(r.first if r.first is not None else float("inf") for r in results)
    early = sorted({name for r in results for name in r.before})
    print(
        f"\n[events] {label}: headers within {max(r.headers for r in results):.2f}s; then the first "
        f"`changed` p50 {firsts[len(firsts) // 2] * 1000:.0f} ms, max {firsts[-1] * 1000:.0f} ms "
        f"({len(results)} streams; events before it: {early or 'none'})"
    )
    assert [r.before for r in results if r.before] == []
    assert firsts[-1] < FIRST_EVENT_S, firsts


def test_new_streams_hear_their_position_at_once_after_a_redis_restart(
    transactional_db: Any, tmp_path: Path
) -> None:
    with _launch(tmp_path, EVENTS_MAX_PER_USER="20", EVENTS_MAX_CONNECTIONS="100") as pods:
        idle_users = [_sign_up(pods) for _ in range(3)]
        fresh_users = [_sign_up(pods) for _ in range(4)]
        idle = [_open(pods, user["access"]) for user in idle_users for _ in range(3)]
        for stream in idle:
            stream.wait_for("changed")
        pods.redis_service.kill_redis()
        for stream in idle:
            stream.wait_for("fallback", timeout=6)
        pods.redis_service.start_redis()
        # 20 new streams at once, on accounts whose channels the process has not subscribed.
        _check("burst right after a Redis restart", _burst(pods, fresh_users, 5))
        for stream in idle:  # and the streams that were open are live again
            _until(stream, "live", timeout=10)
            stream.close()


def test_new_streams_hear_their_position_at_once_while_redis_hangs(
    transactional_db: Any, tmp_path: Path
) -> None:
    """Redis stopped answering (SIGSTOP: connections are accepted, nothing is answered), with a
    longer client timeout: requests' cache calls wait it out on the shared thread."""
    with _launch(tmp_path, EVENTS_MAX_PER_USER="20", EVENTS_MAX_CONNECTIONS="100", REDIS_TIMEOUT="2") as pods:
        users = [_sign_up(pods) for _ in range(4)]
        redis = pods.redis_service.redis
        assert redis is not None
        os.killpg(redis.pid, signal.SIGSTOP)
        try:
            time.sleep(4)  # the events process has noticed (no answer to its PINGs)
            results = _burst(pods, users, 5)
        finally:
            os.killpg(redis.pid, signal.SIGCONT)
        _check("burst while Redis hangs", results)
