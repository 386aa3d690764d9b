"""Revoked on pod A => refused on pod B, although B keeps session state in memory
(apps/common/near_cache.py): two gunicorn instances with production settings, one worker each,
on the test database and on a Redis of their own (so the drill can kill and restart it).

- The bound: B has the session cached (proven: B still answers 200 after the Redis entry was
  overwritten behind its back), A signs the session out, and B is polled from the moment A
  answered until it refuses. Measured over TRIALS sessions; the figures are printed
  (`pytest -s`) and the bound asserted generously. The announcement is on its way before A
  answers, but B's listener thread needs the CPU and the GIL to act on it: on a busy machine a
  request B received within those milliseconds may still be served (the figures count them).
- The drill: Redis killed while A revokes (the marker write and the announcement both fail),
  then restarted empty; and B's subscription killed (`CLIENT KILL TYPE pubsub`) right before
  a revocation. B refuses the session throughout: unsubscribed, it takes the round trip, and
  re-subscribed it starts empty.
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.core.cache.backends.base import default_key_func
from django.db import connections

from scripts.services import Gunicorn, Stack, executable, free_port
from tests.conftest import PASSWORD
from tests.deploy.servers import production_env

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

TRIALS = 20
BOUND_MS = 1000  # generous: measured figures are a few milliseconds (docs/operations.md)


# --- the two pods and their Redis --------------------------------------------------------------


@dataclass
class Pods:
    a: Gunicorn
    b: Gunicorn
    redis_service: Stack
    redis: redis.Redis

    def b_listeners(self) -> list[dict[str, Any]]:
        """Pod B's worker's subscription as Redis sees it (its connection's client name)."""
        names = {f"near-cache:auth:sess:{pid}" for pid in self.b.worker_pids()}
        return [c for c in self.redis.client_list(_type="pubsub") if c["name"] in names]

    def write_behind_b(self, session_id: str, value: Any) -> None:
        """Overwrite the shared (Redis) session state without any announcement."""
        key = default_key_func(f"auth:sess:{session_id}", settings.CACHES["default"].get("KEY_PREFIX", ""), 1)
        self.redis.set(key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL), ex=60)


def _request(server: Gunicorn, method: str, path: str, body: dict | None = None, token: str = "") -> Any:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
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


def _url_with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.fixture
def pods(transactional_db: Any, tmp_path: Path) -> Iterator[Pods]:
    database = connections["default"].settings_dict["NAME"]  # the test database, committed to
    service = Stack(tmp_path)  # only its Redis is started
    service.start_redis()
    redis_url = f"redis://127.0.0.1:{service.redis_port}/0"
    secret = secrets.token_urlsafe(64)  # one key for both pods: A's tokens are valid on B
    servers = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = production_env(
                port,
                SECRET_KEY=secret,
                GUNICORN_WORKERS="1",  # "B has it cached" then means the one worker has it
                DATABASE_URL=_url_with_database(os.environ["DATABASE_URL"], database),
                DATABASE_REPLICA_URLS=_url_with_database(os.environ["DATABASE_REPLICA_URLS"], database),
                REDIS_URL=redis_url,
                LOG_LEVEL="WARNING",
            )
            command = [
                executable("gunicorn"),
                "--config",
                "exampleapp/gunicorn.conf.py",
                "exampleapp.wsgi:application",
            ]
            servers.append(Gunicorn(env, tmp_path / f"pod-{name}.log", port=port, command=command).launch())
        for server in servers:
            server.wait_serving(timeout=60)
        yield Pods(a=servers[0], b=servers[1], redis_service=service, redis=redis.Redis.from_url(redis_url))
    finally:
        for server in servers:
            server.__exit__(None, None, None)
        service.kill_redis()


@pytest.fixture
def credentials(pods: Pods) -> dict[str, str]:
    email = f"pods-{secrets.token_hex(4)}@example.org"
    status, _ = _request(pods.a, "POST", "/v1/auth/register", {"email": email, "password": PASSWORD})
    assert status == 201, pods.a.tail()
    return {"email": email, "password": PASSWORD}


def _sign_in(pods: Pods, credentials: dict[str, str]) -> dict[str, str]:
    status, tokens = _request(pods.a, "POST", "/v1/auth/token", credentials)
    assert status == 200, tokens
    return tokens


def _sid(access: str) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken(access, verify=False)["sid"])  # type: ignore[arg-type]  # signed by the pods


def _cached_on_b(pods: Pods, tokens: dict[str, str]) -> None:
    """B's worker subscribed, and the session's state in its memory: proven by B still
    answering 200 once the shared state says "revoked" behind its back (then restored)."""
    assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 200
    _wait(lambda: bool(pods.b_listeners()), 10, f"pod B never subscribed:\n{pods.b.tail()}")
    time.sleep(0.05)  # B's listener handles the subscription's confirmation
    assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 200  # kept now
    sid = _sid(tokens["access"])
    pods.write_behind_b(sid, "revoked")
    assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 200
    pods.redis.delete(
        default_key_func(f"auth:sess:{sid}", settings.CACHES["default"].get("KEY_PREFIX", ""), 1)
    )


def _refused_on_b_after(pods: Pods, tokens: dict[str, str], revoke: Callable[[], None]) -> tuple[float, int]:
    """Revoke (through A) and poll B: (ms from A's answer to B's first refusal, requests B
    still served with 200 meanwhile)."""
    revoke()
    answered = time.monotonic()
    served = 0
    while True:
        status, _ = _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])
        if status == 401:
            return (time.monotonic() - answered) * 1000, served
        assert status == 200, status
        served += 1
        assert time.monotonic() - answered < 10, "pod B never refused the revoked session"


def _logout(pods: Pods, tokens: dict[str, str]) -> Callable[[], None]:
    def revoke() -> None:
        status, body = _request(pods.a, "POST", "/v1/auth/logout", {"refresh": tokens["refresh"]})
        assert status == 204, body

    return revoke


# --- the bound ---------------------------------------------------------------------------------


def test_revoked_on_pod_a_is_refused_on_pod_b_at_once(pods: Pods, credentials: dict[str, str]) -> None:
    figures = []
    for trial in range(TRIALS):
        tokens = _sign_in(pods, credentials)
        if trial == 0:
            _cached_on_b(pods, tokens)
        else:
            assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 200
        if trial % 2:  # both ways a device is signed out: its own logout, or from another device
            sid = _sid(tokens["access"])

            def revoke(tokens: dict[str, str] = tokens, sid: str = sid) -> None:
                status, _ = _request(pods.a, "DELETE", f"/v1/users/me/sessions/{sid}", token=tokens["access"])
                assert status == 204

            figures.append(_refused_on_b_after(pods, tokens, revoke))
        else:
            figures.append(_refused_on_b_after(pods, tokens, _logout(pods, tokens)))
    latencies = [ms for ms, _ in figures]
    print(
        f"\n[revocation across pods] {TRIALS} sessions: B refused after A answered within "
        f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms; "
        f"requests B still served: {sum(served for _, served in figures)}"
    )
    assert max(latencies) < BOUND_MS, figures


# --- the drill ---------------------------------------------------------------------------------


def test_revocation_while_redis_restarts_is_refused_on_pod_b(pods: Pods, credentials: dict[str, str]) -> None:
    figures: dict[str, tuple[float, int]] = {}
    # 1. Redis killed while A revokes: no marker, no announcement; B must notice the lost
    #    subscription and ask the database.
    tokens = _sign_in(pods, credentials)
    _cached_on_b(pods, tokens)
    pods.redis_service.kill_redis()
    figures["Redis down"] = _refused_on_b_after(pods, tokens, _logout(pods, tokens))
    # 2. Redis back, empty: B re-subscribes, starts empty, and still refuses.
    pods.redis_service.start_redis()
    _wait(lambda: bool(pods.b_listeners()), 15, f"pod B never subscribed again:\n{pods.b.tail()}")
    assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 401
    # 3. B's subscription killed right before a revocation (its announcement may be lost).
    tokens = _sign_in(pods, credentials)
    _cached_on_b(pods, tokens)
    assert pods.redis.client_kill_filter(_type="pubsub") >= 1  # B's listener, A's if back already
    figures["subscription killed"] = _refused_on_b_after(pods, tokens, _logout(pods, tokens))
    _wait(lambda: bool(pods.b_listeners()), 15, "pod B never subscribed again")
    assert _request(pods.b, "GET", "/v1/users/me", token=tokens["access"])[0] == 401
    # 4. Everything healthy again: the local copy is in use on B again (_cached_on_b proves it).
    tokens = _sign_in(pods, credentials)
    _cached_on_b(pods, tokens)
    figures["recovered"] = _refused_on_b_after(pods, tokens, _logout(pods, tokens))
    print(
        "\n[revocation drill] refused on B after A answered: "
        + "; ".join(f"{name} {ms:.1f} ms ({served} served)" for name, (ms, served) in figures.items())
    )
    assert all(ms < BOUND_MS for ms, _ in figures.values()), f"{figures}\nA: {pods.a.tail()}"
