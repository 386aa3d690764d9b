"""One sign-in gate for every place a secret is checked (apps/identity/throttling.py): the API,
the Django admin, a password change's current password and KOReader's key all count towards,
and are refused by, the same per-account and per-address lockout."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings

from apps.identity.models import User
from tests.conftest import PASSWORD, Account, assert_problem

pytestmark = pytest.mark.django_db

WRONG = "not the password at all"


class CountingHasher(MD5PasswordHasher):
    """The test suite's hasher, counting how often a password is hashed or verified: the work
    an answer costs, which is what a timing attacker measures."""

    algorithm = "md5"
    calls = 0

    def encode(self, password: str, salt: str) -> str:
        type(self).calls += 1
        return super().encode(password, salt)


class SlowHasher(MD5PasswordHasher):
    """Verification takes as long as a production hash (Argon2 ~0.2 s), so parallel guesses
    overlap the way they do against a real server."""

    algorithm = "md5"

    def verify(self, password: str, encoded: str) -> bool:
        time.sleep(0.2)
        return super().verify(password, encoded)


COUNTING = ["tests.identity.test_signin_gate.CountingHasher"]


def _staff(account: Account) -> Account:
    User.objects.filter(id=account.id).update(is_staff=True, is_superuser=True)
    return account


def _admin_login(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/admin/login/", {"username": email, "password": password, "next": "/admin/"}, **extra)


# --- the Django admin -----------------------------------------------------------------------------


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5, LOGIN_LOCKOUT_SECONDS=600)
def test_admin_sign_in_locks_like_the_api(client: Client, api: Any, account: Account) -> None:
    staff = _staff(account)
    for _ in range(5):
        assert _admin_login(client, staff.email, WRONG).status_code == 200  # the form, with its error
    locked = _admin_login(client, staff.email, PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 600
    assert b"Too many failed sign-in attempts" in locked.content
    assert b'name="password"' in locked.content  # the login page itself, to try again later
    assert "sessionid" not in locked.cookies
    # The same lockout holds for the API: one count, two entry points.
    assert_problem(api.post("/v1/auth/token", {"email": staff.email, "password": PASSWORD}), 429, "throttled")


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5)
def test_an_account_locked_on_the_api_is_locked_at_the_admin(
    client: Client, api: Any, account: Account
) -> None:
    staff = _staff(account)
    for _ in range(5):
        assert_problem(api.post("/v1/auth/token", {"email": staff.email, "password": WRONG}), 401)
    response = _admin_login(client, staff.email, PASSWORD)
    assert response.status_code == 429
    assert "sessionid" not in response.cookies


def test_admin_sign_in_works_and_a_success_clears_the_count(client: Client, account: Account) -> None:
    staff = _staff(account)
    with override_settings(LOGIN_FAILURES_PER_ACCOUNT=3):
        for _ in range(2):
            _admin_login(client, staff.email, WRONG)
        signed_in = _admin_login(client, staff.email, PASSWORD)
        assert signed_in.status_code == 302
        assert "sessionid" in signed_in.cookies
        client.logout()
        for _ in range(2):
            assert _admin_login(client, staff.email, WRONG).status_code == 200
        assert _admin_login(client, staff.email, PASSWORD).status_code == 302


def test_admin_sign_in_meets_the_per_address_ceiling(client: Client, account: Account) -> None:
    staff = _staff(account)
    with override_settings(AUTH_IP_RATE="3/hour", LOGIN_FAILURES_PER_ACCOUNT=100):
        for _ in range(3):
            _admin_login(client, staff.email, WRONG, REMOTE_ADDR="198.51.100.7")
        refused = _admin_login(client, staff.email, PASSWORD, REMOTE_ADDR="198.51.100.7")
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) >= 1
        assert _admin_login(client, staff.email, PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


# --- counting is atomic ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@override_settings(
    LOGIN_FAILURES_PER_ACCOUNT=5,
    LOGIN_FAILURES_PER_IP=100,
    PASSWORD_HASHERS=["tests.identity.test_signin_gate.SlowHasher"],
)
def test_parallel_guesses_get_at_most_the_limit_of_evaluations(live_server: Any) -> None:
    User.objects.create_user("racer@example.org", PASSWORD)

    def guess(_: int) -> int:
        body = json.dumps({"email": "racer@example.org", "password": WRONG}).encode()
        url = f"{live_server.url}/v1/auth/token"  # the test's own live server: http only
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(guess, range(12)))
    assert statuses == [401] * 5 + [429] * 7


# --- secrets checked inside a session -------------------------------------------------------------


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5)
def test_wrong_current_passwords_count_like_sign_in_failures(api: Any, account: Account) -> None:
    change = {"current_password": WRONG, "new_password": "a brand new passphrase"}
    for _ in range(5):
        assert_problem(account.client.post("/v1/auth/password/change", change), 400, "validation_error")
    # Even the right one is refused now, and the owner's sessions were never ended by a guess.
    right = {**change, "current_password": PASSWORD}
    assert_problem(account.client.post("/v1/auth/password/change", right), 429, "throttled")
    assert_problem(api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}), 429)
    assert account.client.get("/v1/users/me").status_code == 200


@override_settings(PASSWORD_HASHERS=COUNTING)
def test_kosync_refusals_cost_the_same_work_for_every_address(api: Any, make_account: Any) -> None:
    from tests.library.test_kosync import BASE, KEY, KOSYNC_PASSWORD, VND

    with_key = make_account()
    set_key = with_key.client.patch(
        "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": with_key.password}
    )
    assert set_key.status_code == 200
    without_key = make_account()
    work = {}
    for label, email in (
        ("unknown address", "nobody-here@example.org"),
        ("account without a key", without_key.email),
        ("account with a key", with_key.email),
    ):
        CountingHasher.calls = 0
        response = api.get(
            f"{BASE}/users/auth", HTTP_ACCEPT=VND, HTTP_X_AUTH_USER=email, HTTP_X_AUTH_KEY="f" * len(KEY)
        )
        assert response.status_code == 401
        work[label] = CountingHasher.calls
    assert work == {"unknown address": 1, "account without a key": 1, "account with a key": 1}


def test_token_responses_are_not_cacheable(api: Any, account: Account) -> None:
    login = api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD})
    refreshed = api.post("/v1/auth/token/refresh", {"refresh": login.json()["refresh"]})
    again = account.client.post("/v1/auth/reauthenticate", {"password": PASSWORD})
    for response in (login, refreshed, again):
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
