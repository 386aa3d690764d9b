"""Failed sign-ins lock the account and the address; successes only meet a generous ceiling."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.conftest import PASSWORD, assert_problem

pytestmark = pytest.mark.django_db


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3, LOGIN_LOCKOUT_SECONDS=600)
def test_account_locks_after_failures_even_for_right_password(api, account):
    for _ in range(3):
        assert_problem(api.post("/v1/auth/token", {"email": account.email, "password": "nope nope 1"}), 401)
    locked = api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD})
    assert_problem(locked, 429, "throttled")
    assert 1 <= int(locked["Retry-After"]) <= 600


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_lockout_is_per_account(api, account, other_account):
    for _ in range(3):
        api.post("/v1/auth/token", {"email": account.email, "password": "nope nope 1"})
    assert api.post("/v1/auth/token", {"email": other_account.email, "password": PASSWORD}).status_code == 200


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=100, LOGIN_FAILURES_PER_IP=4)
def test_address_locks_after_failures_across_accounts(api, account, other_account):
    for index in range(4):
        api.post("/v1/auth/token", {"email": f"spray{index}@example.org", "password": "nope nope 1"})
    response = api.post("/v1/auth/token", {"email": other_account.email, "password": PASSWORD})
    assert_problem(response, 429, "throttled")
    # Another address is not affected.
    elsewhere = api.post(
        "/v1/auth/token", {"email": account.email, "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert elsewhere.status_code == 200


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_success_resets_the_account_counter(api, account):
    for _ in range(2):
        api.post("/v1/auth/token", {"email": account.email, "password": "nope nope 1"})
    assert api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).status_code == 200
    for _ in range(2):
        api.post("/v1/auth/token", {"email": account.email, "password": "nope nope 1"})
    assert api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).status_code == 200


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_many_successful_logins_are_not_locked(api, account):
    for _ in range(20):
        assert api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).status_code == 200


def test_per_ip_ceiling_on_anonymous_identity_endpoints(api, account):
    cache.clear()  # forget the fixture's own registration and login
    with override_settings(AUTH_IP_RATE="5/hour"):
        codes = [
            api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).status_code
            for _ in range(6)
        ]
        assert codes[:5] == [200] * 5
        ceiling = api.post("/v1/auth/register", {"email": "x@example.org", "password": PASSWORD})
        assert_problem(ceiling, 429, "throttled")
        assert int(ceiling["Retry-After"]) > 0
