"""Every bad token is a 401 problem+json: tampered, expired, unsigned, wrong kind, wrong key. Only
a genuine access token whose time is up says `token_expired` (refresh and retry)."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.identity.models import User
from tests.conftest import assert_problem, bearer

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_missing_token_is_401_with_challenge(api):
    response = api.get("/v1/users/me")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_tampered_payload_is_401(account):
    header, _payload, signature = account.access.split(".")
    claims = _claims(account.access)
    claims["user_id"] = "00000000-0000-0000-0000-000000000000"
    assert_problem(bearer(f"{header}.{_b64(claims)}.{signature}").get("/v1/users/me"), 401)


def test_alg_none_is_401(account):
    claims = _claims(account.access)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_problem(bearer(unsigned).get("/v1/users/me"), 401)


def test_wrong_key_is_401(account):
    forged = jwt.encode(_claims(account.access), "another-secret-key-" * 4, algorithm="HS256")
    assert_problem(bearer(forged).get("/v1/users/me"), 401)


def test_expired_access_token_is_401_token_expired(account):
    token = AccessToken(account.access)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = bearer(str(token)).get("/v1/users/me")
    assert_problem(response, 401, "token_expired")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_other_expired_tokens_stay_authentication_failed(account):
    """Expired but forged, or expired and of the wrong kind: nothing a refresh would mend."""
    refresh = RefreshToken(account.refresh)
    refresh.set_exp(lifetime=-timedelta(seconds=1))
    assert_problem(bearer(str(refresh)).get("/v1/users/me"), 401, "authentication_failed")
    claims = {**_claims(account.access), "exp": int(time.time()) - 10}
    forged = jwt.encode(claims, "another-secret-key-" * 4, algorithm="HS256")
    assert_problem(bearer(forged).get("/v1/users/me"), 401, "authentication_failed")
    assert_problem(bearer("not.a.jwt").get("/v1/users/me"), 401, "authentication_failed")


def test_token_pairs_say_when_the_access_token_expires(api, account):
    lifetime = int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
    login = api.post("/v1/auth/token", {"email": account.email, "password": account.password})
    refreshed = api.post("/v1/auth/token/refresh", {"refresh": login.json()["refresh"]})
    again = bearer(refreshed.json()["access"]).post("/v1/auth/reauthenticate", {"password": account.password})
    for response in (login, refreshed, again):
        assert response.status_code == 200, response.content
        body = response.json()
        assert body.keys() == {"access", "refresh", "expires_in"}
        claims = _claims(body["access"])
        assert body["expires_in"] == lifetime == claims["exp"] - claims["iat"]


def test_refresh_token_used_as_access_is_401(account):
    assert_problem(bearer(account.refresh).get("/v1/users/me"), 401)


def test_access_token_used_as_refresh_is_401(api, account):
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.access}), 401)


def test_garbage_and_malformed_headers_are_401(api):
    assert_problem(bearer("not.a.jwt").get("/v1/users/me"), 401)
    api.credentials(HTTP_AUTHORIZATION="Bearer")
    assert_problem(api.get("/v1/users/me"), 401)


def test_access_token_lifetime_is_at_most_five_minutes(account):
    claims = _claims(account.access)
    assert claims["exp"] - claims["iat"] <= 300
    assert claims["exp"] > time.time()
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=5)


def test_deactivated_user_token_is_401(account, staff_account):
    assert staff_account.client.patch(f"/v1/users/{account.id}", {"is_active": False}).status_code == 200
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_deleted_user_token_is_401(account):
    assert account.client.delete("/v1/users/me").status_code == 204
    assert not User.objects.filter(id=account.id).exists()
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_valid_token_costs_no_query_once_session_state_is_cached(account, django_assert_num_queries):
    account.client.get("/v1/users/me")  # warms the session-state cache
    missing = "00000000-0000-4000-8000-000000000000"
    # Revoking an unknown session is exactly one UPDATE: authentication itself adds nothing.
    with django_assert_num_queries(1) as captured:
        response = account.client.delete(f"/v1/users/me/sessions/{missing}")
    assert response.status_code == 404
    assert captured.captured_queries[0]["sql"].startswith("UPDATE")


# --- tokens remembered once verified (authentication._VerifiedTokens) -----------------------------


def test_a_verified_token_is_not_verified_again(account, monkeypatch):
    from apps.identity import authentication

    verified = []

    class CountingAccessToken(AccessToken):
        def __init__(self, *args, **kwargs):
            verified.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(authentication, "AccessToken", CountingAccessToken)
    for _ in range(3):
        assert account.client.get("/v1/users/me").status_code == 200
    assert len(verified) == 1


def test_a_remembered_token_still_expires(account):
    token = AccessToken(account.access)
    token.set_exp(lifetime=timedelta(seconds=2))  # `exp` is whole seconds: at least 1 s from now
    client = bearer(str(token))
    assert client.get("/v1/users/me").status_code == 200
    time.sleep(max(0.0, token["exp"] - time.time()) + 0.05)
    assert_problem(client.get("/v1/users/me"), 401, "token_expired")


def test_a_remembered_token_tampered_with_is_401(account):
    assert account.client.get("/v1/users/me").status_code == 200
    header, _payload, signature = account.access.split(".")
    claims = {**_claims(account.access), "exp": int(time.time()) + 3600}
    assert_problem(bearer(f"{header}.{_b64(claims)}.{signature}").get("/v1/users/me"), 401)
