"""BOLA/BFLA matrix, generated from the URL resolver: every route and every method it answers.

Each route is classified (by URL name) as one of:
- OWNED: the path names an object of one user. Anonymous → 401; another user → 404, never 403
  and never an effect (the owner's objects are checked unchanged afterwards);
- SELF: the caller's own collection or account. Anonymous → 401;
- STAFF: staff-only. Anonymous → 401; a signed-in non-staff user → 403;
- PUBLIC: no bearer token by design (sign-in flows, KOReader's own header auth, probes, the
  schema), with the reason written next to it.

A route nobody classified fails `test_every_route_is_classified`, so a new endpoint is covered
automatically (its methods join the matrix) or the suite fails until someone decides what it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from apps.portability.models import Job
from tests.conftest import Account
from tests.library import factories
from tests.library.conftest import upload

pytestmark = pytest.mark.django_db

OWNED, SELF, STAFF, PUBLIC = "owned", "self", "staff", "public"
METHODS = ("get", "post", "put", "patch", "delete")

# URL name -> (kind, the object each path parameter names, or the reason a route is public).
CLASSIFIED: dict[str, tuple[str, dict[str, str] | str]] = {
    "auth-register": (PUBLIC, "creates an account"),
    "auth-token": (PUBLIC, "signs in with a password"),
    "auth-token-refresh": (PUBLIC, "authenticated by the refresh token in the body"),
    "auth-logout": (PUBLIC, "authenticated by the refresh token in the body"),
    "auth-password-reset": (PUBLIC, "answers the same for any address"),
    "auth-password-reset-confirm": (PUBLIC, "authenticated by the e-mailed token"),
    "auth-password-change": (SELF, {}),
    "auth-reauthenticate": (SELF, {}),
    "users-list": (STAFF, {}),
    "users-detail": (STAFF, {"user_id": "user"}),
    "users-me": (SELF, {}),
    "users-me-sessions": (SELF, {}),
    "users-me-session-detail": (OWNED, {"session_id": "session"}),
    "users-me-export": (SELF, {}),
    "users-me-export-detail": (OWNED, {"export_id": "export"}),
    "users-me-export-content": (OWNED, {"export_id": "export"}),
    "users-me-import": (SELF, {}),
    "users-me-import-detail": (OWNED, {"import_id": "import"}),
    "todos-tasks": (SELF, {}),
    "todos-bulk": (SELF, {}),
    "todos-lists": (SELF, {}),
    "todos-list-detail": (OWNED, {"list_id": "list"}),
    "todos-task-detail": (OWNED, {"task_id": "task"}),
    "todos-task-completions": (OWNED, {"task_id": "task"}),
    "notes-list": (SELF, {}),
    "notes-detail": (OWNED, {"note_id": "note"}),
    "notes-revisions-list": (OWNED, {"note_id": "note"}),
    "notes-revisions-detail": (OWNED, {"note_id": "note", "number": "revision"}),
    "notes-revisions-restore": (OWNED, {"note_id": "note", "number": "revision"}),
    "kosync-register": (PUBLIC, "KOReader protocol; off by default (tests/library/test_kosync.py)"),
    "kosync-auth": (PUBLIC, "KOReader's x-auth-user/x-auth-key headers (test_kosync.py, per user)"),
    "kosync-progress-put": (PUBLIC, "KOReader's header auth (test_kosync.py)"),
    "kosync-progress-get": (PUBLIC, "KOReader's header auth; progress is per user (test_kosync.py)"),
    "kosync-health": (PUBLIC, "KOReader health check, no data"),
    "sync-changes": (SELF, {}),
    "sync-push": (SELF, {}),
    "sync-asyncapi": (PUBLIC, "the published AsyncAPI document"),
    "sync-events": (SELF, {}),  # the caller's own feed position only
    "files-list": (SELF, {}),
    "files-uploads": (SELF, {}),
    "files-upload-detail": (OWNED, {"upload_id": "upload"}),
    "files-upload-complete": (OWNED, {"upload_id": "upload"}),
    "files-detail": (OWNED, {"file_id": "file"}),
    "files-content": (OWNED, {"file_id": "file"}),
    "files-cover": (OWNED, {"file_id": "file"}),
    "files-viewer-state": (OWNED, {"file_id": "file"}),
    "schema": (PUBLIC, "the published OpenAPI document"),
    "swagger-ui": (PUBLIC, "documentation page"),
    "redoc": (PUBLIC, "documentation page"),
    "redoc-bundle": (PUBLIC, "the documentation page's script"),
    "home": (PUBLIC, "the web client's page; for programs, what the server is and its documentation"),
    "web-service-worker": (PUBLIC, "the web client's service worker: static file names only"),
    "api-not-found": (PUBLIC, "404 for every /v1/ path no other route claims"),
    "healthz": (PUBLIC, "liveness probe, no data"),
    "readyz": (PUBLIC, "readiness probe: dependency names and timings only"),
    "prometheus-django-metrics": (
        PUBLIC,
        "served only on METRICS_PORT, which no Service or Ingress routes (test_metrics_port.py)",
    ),
}
# Unnamed aliases (KOReader clients add a trailing slash) and Django's admin (its own session
# login, staff only: checked in test_admin_needs_a_staff_login).
IGNORED_PREFIXES = ("v1/sync/kosync/", "admin/")


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    methods: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> tuple[str, ...]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset route: the methods it was mounted with
        return tuple(m for m in METHODS if m in actions)
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return ("get",)
    return tuple(m for m in METHODS if hasattr(view, m))


def routes() -> list[Route]:
    found = []
    for path, pattern in _walk(get_resolver().url_patterns):
        if pattern.name is None and path.startswith(IGNORED_PREFIXES[0]):
            continue
        if path.startswith(IGNORED_PREFIXES[1]):
            continue
        found.append(Route(pattern.name or path, path, _methods(pattern)))
    return found


def test_every_route_is_classified() -> None:
    unclassified = [f"{r.name} ({r.path})" for r in routes() if r.name not in CLASSIFIED]
    assert not unclassified, (
        "Routes without an access class: add them to CLASSIFIED in tests/security/test_access_matrix.py "
        f"(owned / self / staff / public with a reason): {unclassified}"
    )
    stale = sorted(set(CLASSIFIED) - {r.name for r in routes()})
    assert not stale, f"classified routes that no longer exist: {stale}"


# --- the owner's objects ---------------------------------------------------------------------


def _owner_objects(owner: Account) -> dict[str, str]:
    client = owner.client
    objects: dict[str, str] = {"user": owner.id}
    objects["list"] = client.post("/v1/todos/lists", {"name": "Mine"}).json()["id"]
    objects["task"] = client.post("/v1/todos", {"list": objects["list"], "title": "Mine"}).json()["id"]
    note = client.post("/v1/notes", {"title": "Mine", "body": "first"}).json()
    client.patch(f"/v1/notes/{note['id']}", {"body": "second"})  # keeps revision 1
    objects["note"] = note["id"]
    revisions = client.get(f"/v1/notes/{note['id']}/revisions").json()["results"]
    objects["revision"] = str(revisions[0]["number"])
    response = upload(client, factories.pdf_bytes(), "mine.pdf")
    assert response.status_code == 201, response.content
    objects["file"] = response.json()["id"]
    started = client.post(
        "/v1/files/uploads",
        {"name": "big.pdf", "size": 6 * 1024 * 1024, "sha256": "a" * 64, "content_type": "application/pdf"},
        format="json",
    )
    assert started.status_code == 201, started.content
    objects["upload"] = started.json()["upload"]["id"]
    objects["session"] = client.get("/v1/users/me/sessions").json()["results"][0]["id"]
    objects["export"] = client.post("/v1/users/me/export").json()["id"]
    # An import needs an empty account and an archive; the row is what the routes look up.
    objects["import"] = str(
        Job.objects.create(
            owner_id=owner.id, kind=Job.Kind.IMPORT, status=Job.Status.FAILED, created_at=timezone.now()
        ).id
    )
    return objects


def _fill(path: str, params: dict[str, str], objects: dict[str, str]) -> str:
    url = "/" + path
    for name, kind in params.items():
        for converter in ("uuid", "int", "kodoc", "str"):
            url = url.replace(f"<{converter}:{name}>", objects[kind])
    return url


def _snapshot(owner: Account, objects: dict[str, str]) -> dict[str, Any]:
    client = owner.client
    return {
        "list": client.get(f"/v1/todos/lists/{objects['list']}").json()["version"],
        "task": client.get(f"/v1/todos/{objects['task']}").json()["version"],
        "note": client.get(f"/v1/notes/{objects['note']}").json()["version"],
        "file": client.get(f"/v1/files/{objects['file']}").json()["version"],
        "upload": client.get(f"/v1/files/uploads/{objects['upload']}").json()["status"],
        "sessions": len(client.get("/v1/users/me/sessions").json()["results"]),
        "me": client.get("/v1/users/me").status_code,
    }


def _call(client: Any, method: str, url: str) -> Any:
    # A body the owner could send: validation must not be what stands between a stranger and
    # the object (the lookup must), so the body is plausible for every route.
    body = {"title": "x", "name": "x", "body": "x", "tags": []}
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def test_bola_bfla_matrix(api: Any, account: Account, other_account: Account) -> None:
    owner, stranger = account, other_account
    objects = _owner_objects(owner)
    before = _snapshot(owner, objects)
    strangers_own = {key: str(uuid.uuid4()) for key in objects}
    strangers_own["revision"] = "1"
    violations: list[str] = []
    checked = 0
    for route in routes():
        kind, params = CLASSIFIED[route.name]
        if kind == PUBLIC:
            continue
        assert isinstance(params, dict)
        url = _fill(route.path, params, objects)
        for method in route.methods:
            checked += 1
            anonymous = _call(api, method, url)
            if anonymous.status_code != 401:
                violations.append(f"anonymous {method.upper()} {route.path} -> {anonymous.status_code}")
            if kind == STAFF:
                answer = _call(stranger.client, method, url)
                if answer.status_code != 403:
                    violations.append(f"non-staff {method.upper()} {route.path} -> {answer.status_code}")
            elif kind == OWNED:
                answer = _call(stranger.client, method, url)
                if answer.status_code != 404:
                    # Only acceptable if a made-up id answers exactly the same (nothing learnt).
                    ghost = _call(stranger.client, method, _fill(route.path, params, strangers_own))
                    same = (ghost.status_code, ghost.json().get("code")) == (
                        answer.status_code,
                        answer.json().get("code") if answer.content else None,
                    )
                    if answer.status_code < 400 or answer.status_code == 403 or not same:
                        violations.append(
                            f"another user's object: {method.upper()} {route.path} -> "
                            f"{answer.status_code} {answer.content[:120]!r} (made-up id: {ghost.status_code})"
                        )
    assert not violations, "\n".join(violations)
    assert checked > 40  # the matrix really covered the API
    assert _snapshot(owner, objects) == before, "a stranger's request changed the owner's objects"


def test_admin_needs_a_staff_login(api: Any, account: Account) -> None:
    response = api.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    # A bearer token is no admin session.
    assert account.client.get("/admin/").status_code == 302
