"""Register, sign in, rotate, sign out — through the public API like a client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.identity.models import DeviceSession, User
from tests.conftest import PASSWORD, assert_problem, bearer

pytestmark = pytest.mark.django_db


def test_register_returns_user_and_hashes_password(api):
    response = api.post(
        "/v1/auth/register",
        {"email": "Ann@Example.org", "password": PASSWORD, "display_name": "Ann"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann@example.org"
    assert body["display_name"] == "Ann"
    assert {"id", "version", "date_joined"} <= body.keys()
    assert "password" not in body
    user = User.objects.get(email="ann@example.org")
    assert str(user.id) == body["id"]
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


def test_register_existing_email_looks_identical_and_mails_owner(api, account):
    mail.outbox.clear()
    response = api.post("/v1/auth/register", {"email": account.email.upper(), "password": PASSWORD})
    assert response.status_code == 201
    assert len(mail.outbox) == 1
    fresh = api.post("/v1/auth/register", {"email": "fresh@example.org", "password": PASSWORD})
    assert response.json().keys() == fresh.json().keys()
    assert {k: type(v) for k, v in response.json().items()} == {k: type(v) for k, v in fresh.json().items()}
    assert User.objects.filter(email=account.email).count() == 1
    assert mail.outbox[0].to == [account.email]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.org", "password": "short"}, "password"),
        ({"email": "a@example.org", "password": "12345678901234"}, "password"),
        ({"password": PASSWORD}, "email"),
    ],
)
def test_register_validation_errors_are_problem_json(api, payload, field):
    body = assert_problem(api.post("/v1/auth/register", payload), 400, "validation_error")
    assert field in body["errors"]
    assert isinstance(body["errors"][field], list)
    assert not User.objects.exists()


def test_login_returns_pair_and_access_works(account):
    me = account.client.get("/v1/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == account.id
    assert me.json()["email"] == account.email
    assert me["ETag"] == f'"{me.json()["version"]}"'


def test_login_records_device_session(api, account):
    api.post(
        "/v1/auth/token",
        {"email": account.email, "password": PASSWORD, "device_name": "Kobo"},
        HTTP_USER_AGENT="KOReader/2024",
    )
    session = DeviceSession.objects.get(user_id=account.id, device_name="Kobo")
    assert session.user_agent == "KOReader/2024"
    assert session.revoked_at is None


def test_unknown_email_and_wrong_password_answer_identically(api, account):
    wrong = api.post("/v1/auth/token", {"email": account.email, "password": "wrong password 1"})
    unknown = api.post("/v1/auth/token", {"email": "nobody@example.org", "password": "wrong password 1"})
    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(unknown, 401, "invalid_credentials")
    strip = lambda r: {k: v for k, v in r.json().items()}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert set(wrong.headers) - {"X-Request-ID"} == set(unknown.headers) - {"X-Request-ID"}


def test_password_reset_request_answers_the_same_for_unknown_email(api, account):
    mail.outbox.clear()
    known = api.post("/v1/auth/password/reset", {"email": account.email})
    unknown = api.post("/v1/auth/password/reset", {"email": "ghost@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert len(mail.outbox) == 1


def _refresh_retry_window_passed(account) -> None:
    """As if REFRESH_RETRY_SECONDS (30) had passed since the account's last refresh."""
    moved = DeviceSession.objects.filter(user_id=account.id, rotated_at__isnull=False).update(
        rotated_at=timezone.now() - timedelta(seconds=31)
    )
    assert moved == 1


def test_refresh_rotates_and_reuse_revokes_the_family(api, account):
    first = api.post("/v1/auth/token/refresh", {"refresh": account.refresh})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh"] != account.refresh
    # The new access token works.
    assert bearer(pair["access"]).get("/v1/users/me").status_code == 200
    _refresh_retry_window_passed(account)
    # Replaying the old refresh token is refused and ends the whole session ...
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401, "token_reused")
    # ... so the newest refresh token and its access token are dead too.
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": pair["refresh"]}), 401, "session_revoked")
    assert_problem(bearer(pair["access"]).get("/v1/users/me"), 401)
    assert_problem(account.client.get("/v1/users/me"), 401)


@pytest.mark.parametrize("lost", [1, 2])
def test_a_refresh_whose_answer_was_lost_may_be_retried_once_at_once(api, account, lost):
    """A reload or a dropped connection can swallow the answer to a refresh: the client still
    holds the token it sent. Within REFRESH_RETRY_SECONDS (30) of that exchange it is answered
    again, with a new pair; the pair nobody saw is then an old token, and using it is a replay.
    Retrying again within the window also works; retrying cannot stretch the window."""
    unseen = None
    for _ in range(lost):
        answer = api.post("/v1/auth/token/refresh", {"refresh": account.refresh})
        assert answer.status_code == 200, answer.content
        assert unseen is None or answer.json()["refresh"] != unseen
        unseen = answer.json()["refresh"]
    retried = api.post("/v1/auth/token/refresh", {"refresh": account.refresh})
    assert retried.status_code == 200, retried.content
    pair = retried.json()
    assert pair["refresh"] not in (account.refresh, unseen)
    assert bearer(pair["access"]).get("/v1/users/me").status_code == 200
    assert api.post("/v1/auth/token/refresh", {"refresh": pair["refresh"]}).status_code == 200  # rotates on

    _refresh_retry_window_passed(account)
    session = DeviceSession.objects.get(user_id=account.id)
    assert session.revoked_at is None
    # The token the lost answer carried was never anyone's to use: whoever shows it is a thief.
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": unseen}), 401, "token_reused")
    assert DeviceSession.objects.get(user_id=account.id).revoke_reason == "refresh_reuse"


def test_only_the_last_exchanged_token_gets_a_retry_and_only_in_time(api, account):
    first = api.post("/v1/auth/token/refresh", {"refresh": account.refresh}).json()
    second = api.post("/v1/auth/token/refresh", {"refresh": first["refresh"]}).json()
    assert second["refresh"]
    # Two exchanges back is a replay, even seconds later.
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401, "token_reused")


def test_a_retry_after_the_window_is_a_replay(api, account):
    pair = api.post("/v1/auth/token/refresh", {"refresh": account.refresh}).json()
    _refresh_retry_window_passed(account)
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401, "token_reused")
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": pair["refresh"]}), 401, "session_revoked")


def test_logout_then_refresh_refused_and_access_dead(api, account):
    assert api.post("/v1/auth/logout", {"refresh": account.refresh}).status_code == 204
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": account.refresh}), 401)
    assert_problem(account.client.get("/v1/users/me"), 401)


def test_logout_with_garbage_token_is_401(api):
    assert_problem(api.post("/v1/auth/logout", {"refresh": "garbage"}), 401, "token_invalid")


def test_other_sessions_survive_logout_of_one(api, account):
    second = api.post("/v1/auth/token", {"email": account.email, "password": PASSWORD}).json()
    assert api.post("/v1/auth/logout", {"refresh": account.refresh}).status_code == 204
    assert bearer(second["access"]).get("/v1/users/me").status_code == 200
    assert api.post("/v1/auth/token/refresh", {"refresh": second["refresh"]}).status_code == 200
