"""/v1/users: the signed-in account, its devices, and the staff-only directory."""

from __future__ import annotations

import uuid

import pytest

from apps.identity.models import DeviceSession, User
from tests.conftest import PASSWORD, assert_problem, bearer

pytestmark = pytest.mark.django_db


def test_patch_me_bumps_version_and_etag(account):
    before = account.client.get("/v1/users/me").json()
    response = account.client.patch("/v1/users/me", {"display_name": "Reader"})
    assert response.status_code == 200
    assert response.json()["display_name"] == "Reader"
    assert response.json()["version"] == before["version"] + 1
    assert response["ETag"] == f'"{before["version"] + 1}"'


def test_patch_me_with_stale_if_match_is_412_and_changes_nothing(account):
    version = account.client.get("/v1/users/me").json()["version"]
    ok = account.client.patch("/v1/users/me", {"display_name": "One"}, HTTP_IF_MATCH=f'"{version}"')
    assert ok.status_code == 200
    stale = account.client.patch("/v1/users/me", {"display_name": "Two"}, HTTP_IF_MATCH=f'"{version}"')
    body = assert_problem(stale, 412, "precondition_failed")
    assert body["current_version"] == version + 1
    assert User.objects.get(id=account.id).display_name == "One"


def test_mass_assignment_is_ignored(account):
    response = account.client.patch(
        "/v1/users/me", {"is_staff": True, "email": "evil@example.org", "version": 99, "id": "x"}
    )
    assert response.status_code == 200
    user = User.objects.get(id=account.id)
    assert not user.is_staff
    assert user.email == account.email
    assert user.version == 1


def test_delete_me_removes_account_and_sessions(account):
    assert account.client.delete("/v1/users/me").status_code == 204
    assert not User.objects.filter(id=account.id).exists()
    assert not DeviceSession.objects.filter(user_id=account.id).exists()


def test_sessions_list_and_revoke(api, account):
    second = api.post(
        "/v1/auth/token", {"email": account.email, "password": PASSWORD, "device_name": "Phone"}
    ).json()
    listed = account.client.get("/v1/users/me/sessions").json()
    assert set(listed) == {"results", "next", "next_cursor"}
    assert len(listed["results"]) == 2
    current = [s for s in listed["results"] if s["current"]]
    phone = next(s for s in listed["results"] if s["device_name"] == "Phone")
    assert len(current) == 1
    assert current[0]["id"] != phone["id"]
    assert account.client.delete(f"/v1/users/me/sessions/{phone['id']}").status_code == 204
    assert_problem(bearer(second["access"]).get("/v1/users/me"), 401)
    assert_problem(api.post("/v1/auth/token/refresh", {"refresh": second["refresh"]}), 401)
    assert len(account.client.get("/v1/users/me/sessions").json()["results"]) == 1


def test_cannot_see_or_revoke_another_users_session(account, other_account):
    theirs = DeviceSession.objects.get(user_id=other_account.id)
    assert_problem(account.client.delete(f"/v1/users/me/sessions/{theirs.id}"), 404, "not_found")
    assert DeviceSession.objects.get(id=theirs.id).revoked_at is None
    ids = {s["id"] for s in account.client.get("/v1/users/me/sessions").json()["results"]}
    assert str(theirs.id) not in ids
    assert other_account.client.get("/v1/users/me").status_code == 200


def test_non_staff_gets_403_on_staff_routes(account, other_account):
    assert_problem(account.client.get("/v1/users"), 403, "permission_denied")
    assert_problem(account.client.get(f"/v1/users/{other_account.id}"), 403)
    assert_problem(account.client.patch(f"/v1/users/{other_account.id}", {"is_staff": True}), 403)
    assert not User.objects.get(id=other_account.id).is_staff


def test_anonymous_gets_401_everywhere_private(api, account):
    for method, path in [
        ("get", "/v1/users/me"),
        ("patch", "/v1/users/me"),
        ("delete", "/v1/users/me"),
        ("get", "/v1/users/me/sessions"),
        ("get", "/v1/users"),
        ("get", f"/v1/users/{account.id}"),
        ("post", "/v1/auth/password/change"),
    ]:
        assert_problem(getattr(api, method)(path), 401)


def test_staff_can_list_search_and_update(staff_account, account):
    listed = staff_account.client.get("/v1/users", {"q": account.email})
    assert [u["id"] for u in listed.json()["results"]] == [account.id]
    detail = staff_account.client.get(f"/v1/users/{account.id}")
    assert detail.status_code == 200
    assert detail["ETag"] == '"1"'
    updated = staff_account.client.patch(f"/v1/users/{account.id}", {"display_name": "Renamed"})
    assert updated.json()["display_name"] == "Renamed"


def test_staff_unknown_user_is_404(staff_account):
    assert_problem(staff_account.client.get("/v1/users/00000000-0000-4000-8000-000000000000"), 404)


def test_list_limit_is_clamped_not_refused(staff_account, make_account):
    for _ in range(3):
        make_account()
    page = staff_account.client.get("/v1/users", {"limit": 2})
    assert len(page.json()["results"]) == 2
    assert page.json()["next"]
    following = staff_account.client.get(page.json()["next"])
    assert following.status_code == 200
    huge = staff_account.client.get("/v1/users", {"limit": 100000})
    assert huge.status_code == 200
    assert len(huge.json()["results"]) == 4


def test_me_shows_storage_and_delete_removes_stored_files(account, settings):
    from apps.library import storage
    from apps.library.models import File
    from tests.library import factories
    from tests.library.conftest import upload

    data = factories.pdf_bytes()
    assert upload(account.client, data, "a.pdf").status_code == 201
    me = account.client.get("/v1/users/me").json()
    assert me["storage"] == {
        "used_bytes": len(data),
        "quota_bytes": settings.USER_STORAGE_QUOTA_BYTES,
        "parts": {"files": len(data), "notes": 0},
    }
    key = File.objects.get(owner_id=account.id).storage_key
    assert [k for k, _ in storage.list_objects(storage.owner_prefix(uuid.UUID(account.id)))] == [key]
    assert account.client.delete("/v1/users/me").status_code == 204
    assert list(storage.list_objects(storage.owner_prefix(uuid.UUID(account.id)))) == []


def test_createsuperuser_makes_a_staff_account_for_the_admin_and_the_api(api, monkeypatch):
    """The recipe README.md and docs/operations.md give for the first staff user (the Job's
    non-interactive form): the account signs in to the admin and to the API as staff."""
    from django.core.management import call_command
    from django.test import Client

    email, password = "ops@example.org", "a long random staff password 7d1c"
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", email)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    call_command("createsuperuser", interactive=False, verbosity=0)
    user = User.objects.get(email=email)
    assert (user.is_staff, user.is_superuser) == (True, True)

    admin = Client()
    signed_in = admin.post("/admin/login/", {"username": email, "password": password, "next": "/admin/"})
    assert signed_in.status_code == 302, signed_in.content[:500]
    assert admin.get("/admin/todos/task/").status_code == 200
    tokens = api.post("/v1/auth/token", {"email": email, "password": password})
    assert tokens.status_code == 200, tokens.content
    assert bearer(tokens.json()["access"]).get("/v1/users").status_code == 200
