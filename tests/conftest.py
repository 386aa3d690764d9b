"""Fixtures shared by the whole suite.

The suite runs against the real services `make test` starts (scripts/devservices.py): the
test database is created on the primary, and the replica alias is pointed at the same database
on the real streaming replica, so router tests see physical replication at work.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, connections
from rest_framework.test import APIClient

from exampleapp import db_router

REQUIRED = ("DATABASE_URL", "DATABASE_REPLICA_URLS", "REDIS_URL", "S3_BUCKET", "DEVSERVICES_PG_DIR")


def pytest_configure(config: pytest.Config) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            "The suite runs against real services; start it with `make test` "
            f"(missing: {', '.join(missing)})."
        )


# Tests that start gunicorn, stop PostgreSQL or Redis, promote the standby: `make test` runs them
# alone, after the rest has run in parallel (pytest-xdist), so they neither compete for the two
# cores with hundreds of other tests nor pull services from under them.
STACK_TESTS = ("tests/drills/", "tests/deploy/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        if str(Path(str(item.path)).relative_to(root)).startswith(STACK_TESTS):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """After pytest-django created the test database on the primary, aim each replica alias at
    that database on the replica server (it arrives there by physical replication)."""
    primary = connections["default"].settings_dict
    replica_port = os.environ["DEVSERVICES_PG_REPLICA_PORT"]
    with django_db_blocker.unblock():
        for alias in settings.REPLICA_DATABASES:
            connections[alias].close()
            target = {
                **primary,
                "HOST": "127.0.0.1",
                "PORT": replica_port,
                "TEST": {**primary["TEST"], "MIRROR": "default"},
            }
            connections.settings[alias].clear()
            connections.settings[alias].update(target)
            connections[alias].settings_dict = connections.settings[alias]
    return


@pytest.fixture(autouse=True)
def _fresh_cache_and_router() -> Iterator[None]:
    from apps.identity import authentication, sessions

    cache.clear()
    sessions.near.clear()  # this process's copy of session state (apps/common/near_cache.py)
    authentication.verified_tokens.clear()
    db_router.reset_health()
    yield
    db_router.reset_health()


_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    id: str
    email: str
    password: str
    access: str
    refresh: str
    client: APIClient


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _register_and_login(email: str | None = None, password: str = PASSWORD, **extra: Any) -> Account:
    email = email or f"user{next(_counter)}-{os.getpid()}@example.org"
    client = APIClient()
    registered = client.post("/v1/auth/register", {"email": email, "password": password, **extra})
    assert registered.status_code == 201, registered.content
    tokens = client.post("/v1/auth/token", {"email": email, "password": password})
    assert tokens.status_code == 200, tokens.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    return Account(
        id=registered.json()["id"],
        email=email,
        password=password,
        access=tokens.json()["access"],
        refresh=tokens.json()["refresh"],
        client=client,
    )


@pytest.fixture
def make_account(db: Any) -> Callable[..., Account]:
    return _register_and_login


@pytest.fixture
def account(make_account: Callable[..., Account]) -> Account:
    return make_account()


@pytest.fixture
def other_account(make_account: Callable[..., Account]) -> Account:
    return make_account()


@pytest.fixture
def staff_account(make_account: Callable[..., Account]) -> Account:
    from apps.identity.models import User

    acct = make_account()
    User.objects.filter(id=acct.id).update(is_staff=True)
    cache.clear()  # session state caches the staff flag
    return acct


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """Requests through the WSGI app must not close the test's database connection (Django's
    test client disconnects the same signal handler for its requests)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
