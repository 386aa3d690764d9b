"""Credentials and irreversible acts need the password, not just a (possibly stolen) access
token: the KOReader key needs the current password, deleting the account a recent sign-in, and
password change, reset and "sign out everywhere" end the KOReader key with the sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from apps.identity.models import DeviceSession, User
from tests.conftest import PASSWORD, Account, assert_problem, bearer
from tests.library.test_kosync import BASE, KEY, KOSYNC_PASSWORD, VND

pytestmark = pytest.mark.django_db
NEW = "a brand new passphrase 42"


def _kosync_auth(email: str) -> int:
    from rest_framework.test import APIClient

    response = APIClient().get(
        f"{BASE}/users/auth", HTTP_ACCEPT=VND, HTTP_X_AUTH_USER=email, HTTP_X_AUTH_KEY=KEY
    )
    return int(response.status_code)


def _set_key(account: Account, **extra: Any) -> Any:
    return account.client.patch("/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, **extra}, format="json")


# --- the KOReader key --------------------------------------------------------------------------


def test_setting_the_kosync_key_needs_the_current_password(account: Account) -> None:
    missing = assert_problem(_set_key(account), 400, "validation_error")
    assert list(missing["errors"]) == ["current_password"]
    assert_problem(_set_key(account, current_password="not it at all"), 400, "validation_error")
    assert _kosync_auth(account.email) == 401
    assert User.objects.get(id=account.id).kosync_key_hash == ""
    assert _set_key(account, current_password=PASSWORD).status_code == 200
    assert _kosync_auth(account.email) == 200


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_guessing_the_current_password_for_the_key_locks_the_account(api: Any, account: Account) -> None:
    for _ in range(3):
        assert_problem(_set_key(account, current_password="a wrong guess"), 400)
    assert_problem(_set_key(account, current_password=PASSWORD), 429, "throttled")


@pytest.fixture
def reader(account: Account) -> Account:
    assert _set_key(account, current_password=PASSWORD).status_code == 200
    assert _kosync_auth(account.email) == 200
    return account


def test_password_change_ends_the_kosync_key(reader: Account) -> None:
    version = reader.client.get("/v1/users/me").json()["version"]
    changed = reader.client.post(
        "/v1/auth/password/change", {"current_password": PASSWORD, "new_password": NEW}
    )
    assert changed.status_code == 204
    assert _kosync_auth(reader.email) == 401
    me = reader.client.get("/v1/users/me").json()
    assert me["kosync_enabled"] is False
    assert me["version"] == version + 1


def test_password_reset_ends_the_kosync_key(api: Any, reader: Account) -> None:
    mail.outbox.clear()
    assert api.post("/v1/auth/password/reset", {"email": reader.email}).status_code == 202
    body = mail.outbox[-1].body
    uid = body.split("uid: ")[1].split()[0]
    token = body.split("token: ")[1].split()[0]
    confirmed = api.post("/v1/auth/password/reset/confirm", {"uid": uid, "token": token, "new_password": NEW})
    assert confirmed.status_code == 204
    assert _kosync_auth(reader.email) == 401


def test_sign_out_everywhere_ends_every_session_and_the_kosync_key(
    api: Any, reader: Account, django_capture_on_commit_callbacks: Any
) -> None:
    phone = api.post("/v1/auth/token", {"email": reader.email, "password": PASSWORD}).json()
    with django_capture_on_commit_callbacks(execute=True):  # the revocation reaches the cache on commit
        assert reader.client.delete("/v1/users/me/sessions").status_code == 204
    assert _kosync_auth(reader.email) == 401
    assert_problem(reader.client.get("/v1/users/me"), 401)  # this session too
    assert_problem(bearer(phone["access"]).get("/v1/users/me"), 401)
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": phone["refresh"]}), 401)
    assert not DeviceSession.objects.filter(user_id=reader.id, revoked_at__isnull=True).exists()


# --- deleting the account ------------------------------------------------------------------------


def _age_sign_in(account: Account, api: Any, seconds: int) -> Account:
    """The account's session as if its password was proved `seconds` ago; a refresh gives
    tokens that say so."""
    DeviceSession.objects.filter(user_id=account.id).update(
        authenticated_at=timezone.now() - timedelta(seconds=seconds)
    )
    pair = api.post("/v1/auth/token/refresh", {"refresh": account.refresh}).json()
    account.client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    account.refresh = pair["refresh"]
    return account


def test_deleting_the_account_needs_a_recent_sign_in(api: Any, account: Account) -> None:
    stale = _age_sign_in(account, api, seconds=301)
    assert_problem(stale.client.delete("/v1/users/me"), 403, "reauthentication_required")
    assert User.objects.filter(id=account.id).exists()
    assert_problem(stale.client.post("/v1/auth/reauthenticate", {"password": "wrong guess here"}), 400)
    fresh = stale.client.post("/v1/auth/reauthenticate", {"password": PASSWORD})
    assert fresh.status_code == 200
    assert stale.client.get("/v1/users/me").status_code == 200  # the old access token still works
    assert bearer(fresh.json()["access"]).delete("/v1/users/me").status_code == 204
    assert not User.objects.filter(id=account.id).exists()


def test_a_refresh_does_not_make_a_sign_in_recent(api: Any, account: Account) -> None:
    stale = _age_sign_in(account, api, seconds=400)
    refreshed = api.post("/v1/auth/token/refresh", {"refresh": stale.refresh}).json()
    assert_problem(bearer(refreshed["access"]).delete("/v1/users/me"), 403, "reauthentication_required")


def test_reauthentication_rotates_the_refresh_token(api: Any, account: Account) -> None:
    fresh = account.client.post("/v1/auth/reauthenticate", {"password": PASSWORD}).json()
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401, "token_reused")
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": fresh["refresh"]}), 401)  # family revoked
