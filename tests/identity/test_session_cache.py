"""The per-process copy of session state (apps/common/near_cache.py) against the real Redis:
hits, its bounds, invalidation through pub/sub, the bypass while the subscription is down, and
the way authentication uses it (sessions.py). Two real pods: test_revocation_across_pods.py."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone
from django_redis import get_redis_connection

from apps.common.near_cache import LIVENESS_SECONDS, NearCache
from apps.identity import sessions
from apps.identity.models import DeviceSession, User
from tests.conftest import Account, assert_problem

pytestmark = pytest.mark.django_db


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> float:
    """Seconds until `condition()` held (fails after `timeout`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.002)
    return time.monotonic() - started


def _live(near: NearCache) -> NearCache:
    _wait(near.usable)
    return near


@pytest.fixture
def near() -> Iterator[NearCache]:
    cache_ = _live(NearCache(f"test:{uuid.uuid4().hex[:8]}", max_entries=3))
    yield cache_
    cache_.close()


class Loader:
    """A load function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: Any = "v") -> Callable[[], Any]:
        def load() -> Any:
            self.calls += 1
            return value

        return load


def _kill_listener(name: str) -> None:
    """Drop this process's subscription of `name` from the Redis side (as a Redis restart or
    `CLIENT KILL TYPE pubsub` does), leaving every other client alone."""
    redis = get_redis_connection("default")
    mine = f"near-cache:{name}:{os.getpid()}"
    clients = [c for c in redis.client_list(_type="pubsub") if c["name"] == mine]
    assert clients, "no subscription to kill"
    for client in clients:
        redis.client_kill_filter(_id=client["id"])


# --- the cache itself ------------------------------------------------------------------------------


def test_a_second_lookup_is_answered_locally(near: NearCache) -> None:
    loader = Loader()
    assert near.get_or_load("a", loader("A")) == "A"
    assert near.get_or_load("a", loader("other")) == "A"
    assert loader.calls == 1
    assert near.get_or_load("missing", loader(None)) is None  # None is an answer too
    assert near.get_or_load("missing", loader("other")) is None
    assert loader.calls == 2


def test_at_most_max_entries_least_recently_used_first(near: NearCache) -> None:
    loader = Loader()
    for key in "abc":
        near.get_or_load(key, loader(key))
    near.get_or_load("a", loader("a"))  # a is now the most recent
    near.get_or_load("d", loader("d"))  # evicts b
    assert len(near) == 3
    calls = loader.calls
    assert near.get_or_load("a", loader("a")) == "a"
    assert loader.calls == calls
    near.get_or_load("b", loader("b"))
    assert loader.calls == calls + 1


@override_settings(NEAR_CACHE_SECONDS=0.2)
def test_entries_expire_after_near_cache_seconds() -> None:
    near = _live(NearCache("test:ttl", max_entries=10))
    try:
        loader = Loader()
        near.get_or_load("a", loader())
        near.get_or_load("a", loader())
        assert loader.calls == 1
        time.sleep(0.25)
        near.get_or_load("a", loader())
        assert loader.calls == 2
    finally:
        near.close()


def test_an_announcement_drops_the_entry_within_milliseconds(near: NearCache) -> None:
    loader = Loader()
    near.get_or_load("a", loader("old"))
    near.get_or_load("b", loader("b"))
    # Published by "another pod": straight on the channel, so only the listener can drop it.
    get_redis_connection("default").publish(near.channel(), "a,unknown")
    waited = _wait(lambda: len(near) == 1)
    assert waited < 0.5
    assert near.get_or_load("a", loader("new")) == "new"
    assert near.get_or_load("b", loader("other")) == "b"


def test_announce_reaches_this_process_too(near: NearCache) -> None:
    loader = Loader()
    near.get_or_load("a", loader("old"))
    near.announce(["a"])
    _wait(lambda: len(near) == 0)


def test_a_load_that_crossed_an_announcement_is_not_kept(near: NearCache) -> None:
    """The load read the old answer; the announcement arrived before it returned: storing the
    old answer now would keep it until the entry expires."""

    def load_while_revoked() -> str:
        near.drop(["a"])  # what the listener does when the announcement arrives meanwhile
        return "read before the revocation"

    assert near.get_or_load("a", load_while_revoked) == "read before the revocation"
    loader = Loader()
    assert near.get_or_load("a", loader("fresh")) == "fresh"
    assert loader.calls == 1


def test_subscription_down_means_every_lookup_loads_then_it_starts_empty(near: NearCache) -> None:
    loader = Loader()
    near.get_or_load("a", loader("before"))
    _kill_listener(near.name)
    _wait(lambda: not near.usable(), timeout=1.0)
    assert len(near) == 0
    # While down, nothing is kept: every lookup takes the round trip.
    # (It may already be back: the listener re-subscribes after 50 ms.)
    calls = loader.calls
    if not near.usable():
        near.get_or_load("a", loader("during"))
        near.get_or_load("a", loader("during"))
        assert loader.calls == calls + 2
    _wait(near.usable)
    assert near.get_or_load("a", loader("after")) == "after"


def test_a_silent_subscription_is_not_trusted(near: NearCache) -> None:
    """No message, not even the answer to its own PING, for LIVENESS_SECONDS: bypassed, as if
    the connection had died without a reset reaching us."""
    assert near.usable()
    near._heard -= LIVENESS_SECONDS  # what a dead, silent connection looks like
    loader = Loader()
    near.get_or_load("a", loader())
    if not near.usable():  # a PING answer may have refreshed it in between
        near.get_or_load("a", loader())
        assert loader.calls == 2
    _wait(near.usable, timeout=2 * LIVENESS_SECONDS)  # the next PING answer restores it


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_off_without_redis() -> None:
    near = NearCache("test:locmem", max_entries=10)
    loader = Loader()
    near.get_or_load("a", loader())
    near.get_or_load("a", loader())
    assert loader.calls == 2
    assert not near.usable()
    near.announce(["a"])  # a no-op, not an error


def test_a_forked_process_starts_its_own_listener(near: NearCache) -> None:
    near.get_or_load("a", Loader()("parent"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os._exit leaves it
        status = 1
        try:
            empty = len(near) == 0 and not near._live  # nothing of the parent's thread or entries
            _wait(near.usable)
            answer = near.get_or_load("a", Loader()("child"))
            os.write(write, f"{empty} {answer}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read, 100) == b"True child"
    os.close(read)
    assert near.get_or_load("a", Loader()("other")) == "parent"


# --- session state -------------------------------------------------------------------------------


def test_a_valid_token_costs_no_redis_round_trip(account: Account) -> None:
    """Once cached, the answer comes from the process: even a change written behind its back in
    Redis is not seen, until it is announced (as every revocation is)."""
    _live(sessions.near)
    assert account.client.get("/v1/users/me").status_code == 200
    session_id = _session_id(account)
    cache.set(f"auth:sess:{session_id}", "revoked", 60)  # not announced
    assert account.client.get("/v1/users/me").status_code == 200
    sessions.near.announce([session_id])
    _wait(lambda: len(sessions.near) == 0)
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_logout_refuses_the_token_in_this_process_at_once(account: Account, api: Any) -> None:
    _live(sessions.near)
    assert account.client.get("/v1/users/me").status_code == 200
    assert api.post("/v1/auth/logout", {"refresh": account.refresh}).status_code == 204
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_a_revocation_is_announced_only_once_committed(
    account: Account, django_capture_on_commit_callbacks: Any
) -> None:
    redis = get_redis_connection("default")
    listener = redis.pubsub()
    listener.subscribe(sessions.near.channel())
    try:
        assert listener.get_message(timeout=1)["type"] == "subscribe"
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            sessions.mark_revoked([_session_id(account)])
        assert listener.get_message(timeout=0.2) is None  # still inside the test's transaction
        for callback in callbacks:
            callback()
        message = listener.get_message(timeout=1)
        assert message is not None
        assert message["data"].decode() == _session_id(account)
    finally:
        listener.close()


def test_a_revocation_is_written_while_the_circuit_is_open(account: Account) -> None:
    """Seconds after a Redis failure the breaker (apps/common/cache.py) still skips Redis; a
    revocation must not be skipped with it, or pods would keep the "live" answer."""
    from apps.common import cache as redis_cache

    session_id = _session_id(account)
    cache.set(f"auth:sess:{session_id}", (account.id, False), 60)
    redis_cache.breaker.trip(ConnectionError("a moment ago"))
    try:
        assert cache.get(f"auth:sess:{session_id}") is None  # skipped: the circuit is open
        sessions.mark_revoked([session_id])
        assert redis_cache.breaker.open_until == 0  # the write went through, and closed it
        assert cache.get(f"auth:sess:{session_id}") == "revoked"
    finally:
        redis_cache.reset()


def test_a_revocation_landing_during_a_reload_is_not_overwritten(account: Account) -> None:
    """The session is read from the database as live; before that answer is stored, another
    pod commits a revocation and writes its marker: the marker must stay."""
    from django.db import connections

    session_id = _session_id(account)
    key = f"auth:sess:{session_id}"

    def revoke_meanwhile(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "identity_devicesession" in sql:
            cache.set(key, "revoked", 60)  # what mark_revoked writes on the other pod
        return result

    with connections["default"].execute_wrapper(revoke_meanwhile):
        assert sessions._shared_state(session_id) is not None  # it was live when read
    assert cache.get(key) == "revoked"


# --- the admin's edits ---------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Client:
    staff = User.objects.create_superuser("admin@example.org", "a long admin password")
    client = Client()
    client.force_login(staff)
    return client


def _admin_user_form(account: Account, **flags: bool) -> dict[str, Any]:
    """The admin's account form as submitted, with its (read-only) sessions inline; a flag left
    out is an unticked box."""
    session_ids = list(DeviceSession.objects.filter(user_id=account.id).values_list("id", flat=True))
    inline = {
        "sessions-TOTAL_FORMS": len(session_ids),
        "sessions-INITIAL_FORMS": len(session_ids),
        **{f"sessions-{n}-id": sid for n, sid in enumerate(session_ids)},
        **{f"sessions-{n}-user": account.id for n in range(len(session_ids))},
    }
    ticked = {name: "on" for name, on in flags.items() if on}
    return {"email": account.email, "display_name": "", **inline, **ticked}


def test_admin_staff_flag_and_deactivation_reach_the_cached_state(
    admin_client: Client, account: Account, django_capture_on_commit_callbacks: Any
) -> None:
    _live(sessions.near)
    assert_problem(account.client.get("/v1/users"), 403)  # the state is cached: not staff
    page = f"/admin/identity/user/{account.id}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        made_staff = admin_client.post(page, _admin_user_form(account, is_active=True, is_staff=True))
    assert made_staff.status_code == 302, made_staff.content
    assert account.client.get("/v1/users").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        deactivated = admin_client.post(page, _admin_user_form(account, is_active=False, is_staff=True))
    assert deactivated.status_code == 302
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_admin_revoking_or_deleting_sessions_refuses_their_tokens(
    admin_client: Client,
    make_account: Callable[..., Account],
    django_capture_on_commit_callbacks: Any,
) -> None:
    _live(sessions.near)
    revoked, deleted = make_account(), make_account()
    for account in (revoked, deleted):
        assert account.client.get("/v1/users/me").status_code == 200
    session = DeviceSession.objects.get(id=_session_id(revoked))
    now = timezone.localtime()
    form = {
        "user": session.user_id,
        "device_name": session.device_name,
        "user_agent": session.user_agent,
        "ip_address": session.ip_address or "",
        "authenticated_at_0": now.date().isoformat(),
        "authenticated_at_1": now.time().strftime("%H:%M:%S"),
        "revoked_at_0": now.date().isoformat(),
        "revoked_at_1": now.time().strftime("%H:%M:%S"),
        "revoke_reason": "staff",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/identity/devicesession/{session.id}/change/", form)
    assert response.status_code == 302, response.content
    assert_problem(revoked.client.get("/v1/users/me"), 401)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/identity/devicesession/",
            {"action": "delete_selected", "_selected_action": [_session_id(deleted)], "post": "yes"},
        )
    assert response.status_code == 302
    assert not DeviceSession.objects.filter(id=_session_id(deleted)).exists()
    assert_problem(deleted.client.get("/v1/users/me"), 401)


def _session_id(account: Account) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken(account.access)["sid"])  # type: ignore[arg-type]
