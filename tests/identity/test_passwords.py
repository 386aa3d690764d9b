"""Password change and reset end sessions; reset tokens work once and expire."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.identity.models import User
from tests.conftest import PASSWORD, assert_problem, bearer

pytestmark = pytest.mark.django_db
NEW = "a brand new passphrase 42"


def _login(api, email, password):
    return api.post("/v1/auth/token", {"email": email, "password": password})


def test_password_change_keeps_this_session_and_kills_others(api, account):
    other = _login(api, account.email, PASSWORD).json()
    response = account.client.post(
        "/v1/auth/password/change", {"current_password": PASSWORD, "new_password": NEW}
    )
    assert response.status_code == 204
    assert account.client.get("/v1/users/me").status_code == 200
    assert api.post("/v1/auth/token/refresh", {"refresh": account.refresh}).status_code == 200
    assert_problem(bearer(other["access"]).get("/v1/users/me"), 401)
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": other["refresh"]}), 401)
    assert_problem(_login(api, account.email, PASSWORD), 401)
    assert _login(api, account.email, NEW).status_code == 200


def test_password_change_needs_current_password(account):
    body = assert_problem(
        account.client.post(
            "/v1/auth/password/change", {"current_password": "wrong one 123", "new_password": NEW}
        ),
        400,
    )
    assert "current_password" in body["errors"]
    assert User.objects.get(id=account.id).check_password(PASSWORD)


def test_password_change_validates_new_password(account):
    body = assert_problem(
        account.client.post(
            "/v1/auth/password/change", {"current_password": PASSWORD, "new_password": "123"}
        ),
        400,
    )
    assert "new_password" in body["errors"]


def _mailed_uid_token() -> tuple[str, str]:
    text = mail.outbox[-1].body
    return re.search(r"uid: (\S+)", text).group(1), re.search(r"token: (\S+)", text).group(1)


def test_reset_flow_is_single_use_and_ends_sessions(api, account):
    mail.outbox.clear()
    assert api.post("/v1/auth/password/reset", {"email": account.email}).status_code == 202
    uid, token = _mailed_uid_token()
    confirm = {"uid": uid, "token": token, "new_password": NEW}
    assert api.post("/v1/auth/password/reset/confirm", confirm).status_code == 204
    assert_problem(account.client.get("/v1/users/me"), 401)
    assert _login(api, account.email, NEW).status_code == 200
    # The same token again: refused, and the password stays.
    again = {**confirm, "new_password": "yet another passphrase 7"}
    assert_problem(api.post("/v1/auth/password/reset/confirm", again), 400, "invalid_token")
    assert User.objects.get(id=account.id).check_password(NEW)


def test_reset_token_expires(api, account, settings):
    class TwoHoursAgo(PasswordResetTokenGenerator):
        def _now(self):
            return datetime.now() - timedelta(hours=2)

    settings.PASSWORD_RESET_TIMEOUT = 3600
    user = User.objects.get(id=account.id)
    token = TwoHoursAgo().make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    response = api.post("/v1/auth/password/reset/confirm", {"uid": uid, "token": token, "new_password": NEW})
    assert_problem(response, 400, "invalid_token")
    assert User.objects.get(id=account.id).check_password(PASSWORD)


def test_reset_with_forged_uid_is_refused(api, account):
    mail.outbox.clear()
    api.post("/v1/auth/password/reset", {"email": account.email})
    _, token = _mailed_uid_token()
    for uid in ("garbage", urlsafe_base64_encode(b"00000000-0000-4000-8000-000000000000")):
        assert_problem(
            api.post("/v1/auth/password/reset/confirm", {"uid": uid, "token": token, "new_password": NEW}),
            400,
            "invalid_token",
        )
