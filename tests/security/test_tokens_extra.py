"""JWT cases not already in tests/identity (which cover alg none, wrong key, tampering, expiry,
refresh used as access and the reverse, deactivated and deleted users, and reuse of a rotated
refresh token revoking the whole family): algorithm confusion, an expired refresh token, a
token naming a session that never existed, and a refresh token reused after its family was
revoked by a password change."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import PASSWORD, assert_problem, bearer

pytestmark = pytest.mark.django_db


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _key() -> str:
    return str(settings.SIMPLE_JWT.get("SIGNING_KEY") or settings.SECRET_KEY)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_with_the_right_key_are_401(account, algorithm):
    forged = jwt.encode(_claims(account.access), _key(), algorithm=algorithm)
    assert_problem(bearer(forged).get("/v1/users/me"), 401)


def test_expired_refresh_token_is_401(api, account):
    token = RefreshToken(account.refresh)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": str(token)}), 401)


def test_valid_signature_for_a_session_that_never_existed_is_401(account):
    claims = {**_claims(account.access), "sid": str(uuid.uuid4())}
    forged = jwt.encode(claims, _key(), algorithm="HS256")
    assert_problem(bearer(forged).get("/v1/users/me"), 401)


def test_valid_signature_for_another_users_session_is_401(account, other_account):
    claims = {**_claims(account.access), "sid": _claims(other_account.access)["sid"]}
    forged = jwt.encode(claims, _key(), algorithm="HS256")
    assert_problem(bearer(forged).get("/v1/users/me"), 401)


def test_refresh_after_password_change_is_401(api, account):
    second = api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).json()
    changed = bearer(second["access"]).post(
        "/v1/auth/password/change",
        {"current_password": PASSWORD, "new_password": "an entirely new passphrase 42"},
    )
    assert changed.status_code in (200, 204), changed.content
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401)
    assert_problem(account.client.get("/v1/users/me"), 401)
