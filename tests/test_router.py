"""The database router against the real streaming replica.

These tests commit their data (transactional) so physical replication can carry it, and turn
replica reads on. Which server answered is proven two ways: the SQL captured on the replica
alias, and the data itself while WAL replay on the replica is paused (a row the primary has and
the paused replica lacks shows exactly where a read went).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from exampleapp import db_router
from scripts.services import Postgres
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.replica,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def pg() -> Iterator[Postgres]:
    control = Postgres.from_env()
    yield control
    # Leave the replica as the next test expects it: running and replaying.
    if not control.is_running("replica"):
        control.start_replica()
    control.resume_replay()
    connections["replica1"].close()


@pytest.fixture
def replica_reads() -> Iterator[None]:
    with override_settings(
        REPLICA_READS_ENABLED=True, READ_YOUR_WRITES_SECONDS=5, REPLICA_CHECK_INTERVAL_SECONDS=60
    ):
        yield


def _forget_pins() -> None:
    """Drop read-your-writes pins (and cached session state) as if the window had passed."""
    cache.clear()


def _search(client, email):
    return client.get("/v1/users", {"q": email})


def test_read_after_another_users_write_is_served_by_the_replica(pg, replica_reads, staff_account, api):
    pg.wait_replica_caught_up()
    _forget_pins()
    pg.pause_replay()
    newcomer = "newcomer@example.org"
    assert api.post("/v1/auth/register", {"email": newcomer, "password": PASSWORD}).status_code == 201

    with CaptureQueriesContext(connections["replica1"]) as on_replica:
        stale = _search(staff_account.client, newcomer)
    assert stale.status_code == 200
    assert stale.json()["results"] == []  # the paused replica has not replayed the insert
    assert any("identity_user" in q["sql"] for q in on_replica.captured_queries)

    pg.resume_replay()
    pg.wait_replica_caught_up()
    with CaptureQueriesContext(connections["replica1"]) as on_replica:
        fresh = _search(staff_account.client, newcomer)
    assert [u["email"] for u in fresh.json()["results"]] == [newcomer]
    assert on_replica.captured_queries


def test_writer_reads_own_write_immediately_with_replay_paused(pg, replica_reads, account):
    pg.wait_replica_caught_up()
    _forget_pins()
    pg.pause_replay()
    assert account.client.patch("/v1/users/me", {"display_name": "Fresh"}).status_code == 200
    with CaptureQueriesContext(connections["default"]) as on_primary:
        mine = account.client.get("/v1/users/me")
    assert mine.json()["display_name"] == "Fresh"
    assert any("identity_user" in q["sql"] for q in on_primary.captured_queries)

    # Proof that the pin did it: once it is gone, the paused replica answers with the old value.
    _forget_pins()
    assert account.client.get("/v1/users/me").json()["display_name"] == ""


def test_pin_is_per_user(pg, replica_reads, account, other_account):
    pg.wait_replica_caught_up()
    _forget_pins()
    account.client.patch("/v1/users/me", {"display_name": "Writer"})
    assert db_router.is_pinned(account.id)
    assert not db_router.is_pinned(other_account.id)


def test_stopped_replica_reads_fall_back_to_the_primary(pg, replica_reads, staff_account):
    pg.wait_replica_caught_up()
    _forget_pins()
    # A healthy measurement first, so the next request trusts the replica and hits the failure.
    assert _search(staff_account.client, staff_account.email).status_code == 200
    pg.stop_replica()

    response = _search(staff_account.client, staff_account.email)
    assert response.status_code == 200
    assert [u["email"] for u in response.json()["results"]] == [staff_account.email]
    # The failed replica is benched: following reads go straight to the primary.
    assert not db_router._is_healthy("replica1")
    for _ in range(3):
        assert _search(staff_account.client, staff_account.email).status_code == 200


def test_replica_found_down_by_the_health_check_is_skipped(pg, replica_reads, staff_account):
    pg.stop_replica()
    _forget_pins()
    with override_settings(REPLICA_CHECK_INTERVAL_SECONDS=0):
        response = _search(staff_account.client, staff_account.email)
    assert response.status_code == 200
    assert response.json()["results"]


def test_lagging_replica_is_skipped(pg, replica_reads, staff_account, api):
    pg.wait_replica_caught_up()
    pg.pause_replay()
    api.post("/v1/auth/register", {"email": "late@example.org", "password": PASSWORD})
    _forget_pins()
    time.sleep(1.2)  # let replay fall measurably behind the primary
    with override_settings(REPLICA_CHECK_INTERVAL_SECONDS=0, REPLICA_MAX_LAG_SECONDS=0.5):
        response = _search(staff_account.client, "late@example.org")
    # Served by the primary, so the new account is there although the replica is behind.
    assert [u["email"] for u in response.json()["results"]] == ["late@example.org"]
    assert db_router._health["replica1"].lag > 0.5
