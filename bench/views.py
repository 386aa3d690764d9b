"""Baselines of `make bench` (bench-only URLconf, never routed in production).

Each baseline does what the real endpoint must do — the same authentication, the same query, the
same JSON — by hand: plain Django views, `.values()` rows and orjson, no DRF. The real endpoints
are measured against them in the same run, so a ratio says what the framework layers cost.
"""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta, timezone
from typing import Any

import orjson
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.http import HttpRequest, HttpResponse
from rest_framework import permissions
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.authentication import AccessTokenAuthentication, AuthenticatedUser
from apps.notes.models import Note
from apps.todos.models import Task

_auth = AccessTokenAuthentication()
_JSON = "application/json"

TREE_ORDER = ["tree_position", "tree_root", "sub_position", "id"]
TASK_COLUMNS = (
    "id",
    "list_id",
    "parent_id",
    "title",
    "notes",
    "done",
    "completed_at",
    "due_date",
    "due_at",
    "due_offset",
    "priority",
    "tags",
    "position",
    "recurrence",
    "completion_count",
    "last_completed_at",
    "field_versions",
    "version",
    "created_at",
    "updated_at",
)
NOTE_OUTPUT = (
    "id",
    "title",
    "body",
    "tags",
    "pinned",
    "archived",
    "files",
    "version",
    "created_at",
    "updated_at",
)
NOTE_COLUMNS = tuple(name if name != "files" else "file_ids" for name in NOTE_OUTPUT)


def _user(request: HttpRequest) -> AuthenticatedUser | None:
    """The same authentication as the API (a valid token costs a cache lookup, no SQL)."""
    try:
        found = _auth.authenticate(request)  # type: ignore[arg-type]
    except APIException:
        return None
    return found[0] if found is not None else None


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data, option=orjson.OPT_UTC_Z), content_type=_JSON, status=status)


def _unauthorized() -> HttpResponse:
    return _json({"detail": "not authenticated"}, status=401)


def _due(row: dict[str, Any]) -> str | None:
    if row["due_date"] is not None:
        return str(row["due_date"].isoformat())
    if row["due_at"] is not None:
        offset = row["due_offset"] or 0
        return str(row["due_at"].astimezone(timezone(timedelta(minutes=offset))).isoformat())
    return None


def _task(row: dict[str, Any]) -> dict[str, Any]:
    recurrence = row["recurrence"]
    return {
        "id": row["id"],
        "list": row["list_id"],
        "parent": row["parent_id"],
        "title": row["title"],
        "notes": row["notes"],
        "done": row["done"],
        "completed_at": row["completed_at"],
        "due": _due(row),
        "priority": row["priority"],
        "tags": row["tags"],
        "position": row["position"],
        "recurrence": {"freq": recurrence["freq"], "interval": recurrence["interval"]}
        if recurrence
        else None,
        "completion_count": row["completion_count"],
        "last_completed_at": row["last_completed_at"],
        "field_versions": row["field_versions"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def todos_baseline(request: HttpRequest) -> HttpResponse:
    """`GET /v1/todos?limit=N` by hand: first page in the default order (sub-tasks under their
    parent: the tree keys, then id)."""
    user = _user(request)
    if user is None:
        return _unauthorized()
    try:
        limit = max(1, min(int(request.GET.get("limit", "50")), 200))
    except ValueError:
        limit = 50
    rows = list(
        Task.objects.filter(owner_id=user.id, deleted_at__isnull=True)
        .order_by(*TREE_ORDER)
        .values(*TASK_COLUMNS, *TREE_ORDER[:-1])[: limit + 1]
    )
    next_url = token = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        cursor = orjson.dumps({"o": TREE_ORDER, "p": [last[name] for name in TREE_ORDER]})
        token = base64.urlsafe_b64encode(cursor).decode().rstrip("=")
        next_url = request.build_absolute_uri(f"{request.path}?cursor={token}&limit={limit}")
    return _json({"results": [_task(row) for row in rows], "next": next_url, "next_cursor": token})


def note_baseline(request: HttpRequest, note_id: uuid.UUID) -> HttpResponse:
    """`GET /v1/notes/{id}` by hand."""
    user = _user(request)
    if user is None:
        return _unauthorized()
    links = (
        Note.linked_files.through.objects.filter(note_id=OuterRef("id"), file__deleted_at__isnull=True)
        .order_by("file_id")
        .values("file_id")
    )
    try:
        row = (
            Note.objects.filter(owner_id=user.id, deleted_at__isnull=True, id=note_id)
            .annotate(file_ids=ArraySubquery(links))
            .values(*NOTE_COLUMNS)
            .get()
        )
    except Note.DoesNotExist:
        return _json({"detail": "not found"}, status=404)
    response = _json({name: row["file_ids" if name == "files" else name] for name in NOTE_OUTPUT})
    response["ETag"] = f'"{row["version"]}"'
    return response


class PingView(APIView):
    """A trivial endpoint behind the API's authentication (measure 3)."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class AnonymousPingView(PingView):
    """The same endpoint without authentication."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
