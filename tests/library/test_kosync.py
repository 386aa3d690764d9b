"""KOReader's progress-sync protocol, case by case from specs/kosync (statuses, codes, bodies)."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.identity.models import User

pytestmark = pytest.mark.django_db

BASE = "/v1/sync/kosync"
VND = "application/vnd.koreader.v1+json"
KOSYNC_PASSWORD = "reading on the tram"
KEY = hashlib.md5(KOSYNC_PASSWORD.encode(), usedforsecurity=False).hexdigest()
DOC = "0123456789abcdef0123456789abcdef"


def _kclient(email: str | None = None, key: str | None = KEY, accept: str | None = VND) -> APIClient:
    client = APIClient()
    headers = {}
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    if email is not None:
        headers["HTTP_X_AUTH_USER"] = email
    if key is not None:
        headers["HTTP_X_AUTH_KEY"] = key
    client.credentials(**headers)
    return client


def _error(response, status: int, code: int, message: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    if message is not None:
        assert body["message"] == message


@pytest.fixture
def reader(account):
    response = account.client.patch(
        "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": account.password}
    )
    assert response.status_code == 200
    assert response.json()["kosync_enabled"] is True
    return account


def _put(client, **body):
    payload = {
        "document": DOC,
        "progress": "/body/DocFragment[20]/body/p[22]/text().0",
        "percentage": 0.4217,
        "device": "Kobo Libra 2",
        "device_id": "A" * 32,
        **body,
    }
    return client.put(f"{BASE}/syncs/progress", payload, format="json")


def test_key_is_stored_only_as_a_slow_hash(reader):
    stored = User.objects.get(id=reader.id).kosync_key_hash
    assert stored
    assert KEY not in stored
    assert KOSYNC_PASSWORD not in stored


def test_auth_ok_and_failures(reader):
    ok = _kclient(reader.email).get(f"{BASE}/users/auth")
    assert ok.status_code == 200
    assert ok.json() == {"authorized": "OK"}
    assert ok["Content-Type"] == "application/json"
    # Usernames are the account's e-mail; KOReader users type it as they like.
    assert _kclient(reader.email.upper()).get(f"{BASE}/users/auth").status_code == 200
    _error(_kclient(reader.email, key="0" * 32).get(f"{BASE}/users/auth"), 401, 2001, "Unauthorized")
    _error(_kclient("nobody@example.org").get(f"{BASE}/users/auth"), 401, 2001)
    _error(_kclient(None, key=None).get(f"{BASE}/users/auth"), 401, 2001)
    _error(_kclient(reader.email, key="").get(f"{BASE}/users/auth"), 401, 2001)
    _error(_kclient("a:b").get(f"{BASE}/users/auth"), 401, 2001)


def test_account_without_kosync_key_is_unauthorized(account):
    _error(_kclient(account.email).get(f"{BASE}/users/auth"), 401, 2001)


def test_turning_kosync_off(reader):
    assert (
        reader.client.patch(
            "/v1/users/me", {"kosync_password": None, "current_password": reader.password}
        ).json()["kosync_enabled"]
        is False
    )
    _error(_kclient(reader.email).get(f"{BASE}/users/auth"), 401, 2001)


@pytest.mark.parametrize(
    ("accept", "code"),
    [(None, 100), ("text/html", 101), ("application/vnd.koreader.v2+json", 102)],
)
def test_accept_header_gate(reader, accept, code):
    _error(_kclient(reader.email, accept=accept).get(f"{BASE}/users/auth"), 412, code)


def test_plain_json_accept_is_tolerated(reader):
    assert _kclient(reader.email, accept="application/json").get(f"{BASE}/users/auth").status_code == 200


def test_registration_is_disabled_by_default(api):
    client = _kclient()
    response = client.post(
        f"{BASE}/users/create", {"username": "kr@example.org", "password": KEY}, format="json"
    )
    _error(response, 402, 2005, "User registration is disabled.")
    assert not User.objects.filter(email="kr@example.org").exists()


@override_settings(KOSYNC_REGISTRATION_ENABLED=True)
def test_registration_when_enabled(api):
    client = _kclient()
    created = client.post(
        f"{BASE}/users/create", {"username": "kr@example.org", "password": KEY}, format="json"
    )
    assert created.status_code == 201
    assert created.json() == {"username": "kr@example.org"}
    assert _kclient("kr@example.org").get(f"{BASE}/users/auth").status_code == 200
    again = client.post(
        f"{BASE}/users/create", {"username": "kr@example.org", "password": KEY}, format="json"
    )
    _error(again, 402, 2002, "Username is already registered.")
    for bad in (
        {"username": "", "password": KEY},
        {"username": "a:b", "password": KEY},
        {"username": "x@example.org", "password": 5},
        {"username": "x@example.org"},
    ):
        _error(client.post(f"{BASE}/users/create", bad, format="json"), 403, 2003, "Invalid request")


def test_progress_roundtrip_unknown_document(reader):
    client = _kclient(reader.email)
    stored = _put(client)
    assert stored.status_code == 200
    assert stored.json()["document"] == DOC
    assert isinstance(stored.json()["timestamp"], int)
    got = client.get(f"{BASE}/syncs/progress/{DOC}")
    assert got.status_code == 200
    assert got["Content-Type"] == "application/json"
    assert got.json() == {
        "document": DOC,
        "percentage": 0.4217,
        "progress": "/body/DocFragment[20]/body/p[22]/text().0",
        "device": "Kobo Libra 2",
        "device_id": "A" * 32,
        "timestamp": stored.json()["timestamp"],
    }


def test_last_write_wins_even_backwards(reader):
    client = _kclient(reader.email)
    _put(client, percentage=0.8, progress="80")
    _put(client, percentage=0.2, progress="20", device="Phone", device_id=None)
    body = client.get(f"{BASE}/syncs/progress/{DOC}").json()
    assert body["percentage"] == 0.2
    assert body["progress"] == "20"
    assert body["device"] == "Phone"
    assert body["device_id"] == "A" * 32  # a push without device_id keeps the stored one


def test_unknown_document_is_empty_object(reader):
    got = _kclient(reader.email).get(f"{BASE}/syncs/progress/{'f' * 32}")
    assert got.status_code == 200
    assert got.json() == {}


def test_progress_is_per_user(reader, make_account):
    _put(_kclient(reader.email))
    other = make_account()
    other.client.patch(
        "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": other.password}
    )
    assert _kclient(other.email).get(f"{BASE}/syncs/progress/{DOC}").json() == {}


def test_progress_needs_auth_before_anything(reader):
    _error(_kclient(reader.email, key="bad").put(f"{BASE}/syncs/progress", {}, format="json"), 401, 2001)
    _error(_kclient(reader.email, key="bad").get(f"{BASE}/syncs/progress/{DOC}"), 401, 2001)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"document": ""}, 403, 2004),
        ({"document": None}, 403, 2004),
        ({"document": "a:b"}, 403, 2004),
        ({"percentage": "lots"}, 403, 2003),
        ({"percentage": None}, 403, 2003),
        ({"percentage": 1.5}, 403, 2003),
        ({"progress": None}, 403, 2003),
        ({"device": None}, 403, 2003),
    ],
)
def test_progress_validation(reader, body, status, code):
    _error(_put(_kclient(reader.email), **body), status, code)
    assert _kclient(reader.email).get(f"{BASE}/syncs/progress/{DOC}").json() == {}


def test_numeric_string_percentage_and_numeric_progress_accepted(reader):
    client = _kclient(reader.email)
    assert _put(client, percentage="0.5", progress=69).status_code == 200
    body = client.get(f"{BASE}/syncs/progress/{DOC}").json()
    assert body["percentage"] == 0.5
    assert body["progress"] == "69"


def test_bad_json_and_array_bodies(reader):
    client = _kclient(reader.email)
    bad = client.generic("PUT", f"{BASE}/syncs/progress", "{nope", content_type="application/json")
    _error(bad, 400, 103, "Could not parse JSON in body.")
    array = client.generic("PUT", f"{BASE}/syncs/progress", "[1, 2]", content_type="application/json")
    _error(array, 400, 104, "Body should be a JSON hash.")


def test_trailing_slash_and_route_rules(reader):
    client = _kclient(reader.email)
    assert client.get(f"{BASE}/users/auth/").status_code == 200
    assert (
        client.put(
            f"{BASE}/syncs/progress/",
            {"document": DOC, "progress": "1", "percentage": 0.1, "device": "x"},
            format="json",
        ).status_code
        == 200
    )
    assert client.get(f"{BASE}/syncs/progress/bad-id").status_code == 404
    assert client.post(f"{BASE}/users/auth").status_code == 404
    assert client.delete(f"{BASE}/syncs/progress/{DOC}").status_code == 404


def test_healthcheck(api):
    response = _kclient().get(f"{BASE}/healthcheck")
    assert response.status_code == 200
    assert response.json() == {"state": "OK"}
