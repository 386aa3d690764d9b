"""/v1/sync: pull the change feed, push operations. Thin views over selectors and services."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import ApplicationError, ErrorCode, flatten_errors
from apps.common.parsers import ItemwiseTextJSONParser
from apps.common.renderers import ORJSONRenderer
from apps.common.schema import EXAMPLE_IDS, PROBLEM_RESPONSES
from apps.common.text import UNSTORABLE_MESSAGE, find_unstorable
from apps.common.views import AnyAccept, owner_id

from .. import asyncapi, registry, selectors, services
from . import serializers as s


class ChangesView(APIView):
    # Feed entries carry rows' datetimes and UUIDs: orjson writes them as DRF's fields do.
    renderer_classes = [ORJSONRenderer]

    @extend_schema(
        summary="Changes after a cursor (empty cursor: full sync)",
        description="Everything you own that changed after `cursor`, oldest first: `{changes, cursor, "
        "has_more}`. Start with no cursor (a full sync), then pull again with the `cursor` of the "
        "last answer; while `has_more` is true there is more right away. A change's `type` says "
        "what `data` is (the object as the REST API shows it); `op: delete` is a tombstone whose "
        "`data` is null. The feed never skips a change, also under concurrent writers. 410 "
        "`resync_required`: the cursor is older than the tombstones kept; pull from no cursor again "
        "(docs/sync.md).",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`cursor` of the previous answer"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 100, clamped to the maximum"),
            OpenApiParameter("types", OpenApiTypes.STR, description="Comma list of types to include"),
        ],
        responses={200: s.ChangesOutput, 410: PROBLEM_RESPONSES[400], **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        query = s.ChangesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = min(query.validated_data["limit"], settings.SYNC_PULL_MAX_LIMIT)
        page = selectors.changes_since(
            owner_id=owner_id(request),
            cursor=query.validated_data["cursor"],
            limit=limit,
            types=query.validated_data["types"],
        )
        return Response({"changes": page.changes, "cursor": str(page.cursor), "has_more": page.has_more})


class PushTooLarge(ApplicationError):
    status = 413
    code = ErrorCode.PUSH_TOO_LARGE


_OP_KEYS = frozenset(("op_id", "type", "action", "id", "base_version", "fields"))
_OP_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _plain_op(raw: Any) -> services.PushOp | None:
    """The op PushOpInput would make of `raw`, for the plain case only (JSON types as the
    schema says, nothing to coerce or trim); None otherwise, and the serializer decides. Saves
    most of a push's validation (figures: docs/benchmarks.md)."""
    if type(raw) is not dict or not raw.keys() <= _OP_KEYS:
        return None
    op_id, kind, action, raw_id = raw.get("op_id"), raw.get("type"), raw.get("action"), raw.get("id")
    base_version = raw.get("base_version", 0)
    fields = raw.get("fields", {})
    if not (
        type(op_id) is str
        and _OP_ID.fullmatch(op_id)
        and type(kind) is str
        and kind in registry.names()
        and action in s.PUSH_ACTIONS
        and type(raw_id) is str
        and type(base_version) is int
        and base_version >= 0
        and type(fields) is dict
    ):
        return None
    try:
        object_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    return services.PushOp(
        op_id=op_id,
        type=kind,
        action=services.PushAction(action),
        id=object_id,
        base_version=base_version,
        fields=dict(fields),
    )


def _echo(raw: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str | None:
    """A field of a refused op as the result may repeat it: only a well-formed one (the result
    must never carry text that cannot be stored or rendered)."""
    value = raw.get(key)
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


_UUID = re.compile(r"[0-9A-Fa-f-]{32,36}")


def _refused(raw: Any, errors: dict[str, list[str]], *, code: str, detail: str) -> dict[str, Any]:
    raw_dict = raw if isinstance(raw, dict) else {}
    return {
        "op_id": _echo(raw_dict, "op_id", _OP_ID),
        "status": registry.OpStatus.REJECTED,
        # Only a registered type is repeated: a result's `type` is one of them or null, which
        # lets a typed client choose the result's shape by it (apps/sync/api/schema.py).
        "type": raw_dict.get("type") if raw_dict.get("type") in registry.names() else None,
        "id": _echo(raw_dict, "id", _UUID),
        "code": code,
        "detail": detail,
        "errors": errors,
    }


def _parse_op(raw: Any) -> services.PushOp | dict[str, Any]:
    """A valid op, or the `rejected` result of an invalid one. Text PostgreSQL cannot store is
    refused here, per op (the body parser leaves it to this view: see ItemwiseTextJSONParser)."""
    unstorable = find_unstorable(raw)
    if unstorable is not None:
        return _refused(
            raw,
            {unstorable: [UNSTORABLE_MESSAGE]},
            code=ErrorCode.INVALID_TEXT,
            detail="The operation has text that cannot be stored.",
        )
    plain = _plain_op(raw)
    if plain is not None:
        return plain
    op = s.PushOpInput(data=raw)
    if op.is_valid():
        data = op.validated_data
        return services.PushOp(
            op_id=data["op_id"],
            type=data["type"],
            action=services.PushAction(data["action"]),
            id=data["id"],
            base_version=data["base_version"],
            fields=data["fields"],
        )
    return _refused(
        raw, flatten_errors(op.errors), code=ErrorCode.VALIDATION_ERROR, detail="The operation is malformed."
    )


class PushView(APIView):
    renderer_classes = [ORJSONRenderer]  # the results are plain JSON; orjson writes them faster
    parser_classes = [ItemwiseTextJSONParser]  # text is checked per op (_parse_op)

    @extend_schema(
        summary="Apply a batch of operations; one result per operation",
        description="Up to `SYNC_PUSH_MAX_OPS` (100) operations, each answered on its own, in order "
        "(a bad op never fails the batch): `applied`; `merged` (your fields combined with newer "
        "changes to other fields); `conflict` (the same field changed on both sides since your "
        "`base_version`: the server's value stays, `conflicts` shows both, and a note's losing "
        "text is kept as a revision); `rejected` (`code`, `detail`, `errors`). `base_version` is "
        "the version your change is based on (0 for an object you create). Sending an `op_id` "
        "again answers the first result and applies nothing twice, so retry freely after a "
        "timeout.",
        request=s.Push,
        examples=[
            OpenApiExample(
                "Create a list and a task in it, offline",
                request_only=True,
                value={
                    "ops": [
                        {
                            "op_id": "phone-1",
                            "type": "tasklist",
                            "action": "upsert",
                            "id": EXAMPLE_IDS["push_list"],
                            "base_version": 0,
                            "fields": {"name": "Groceries"},
                        },
                        {
                            "op_id": "phone-2",
                            "type": "task",
                            "action": "upsert",
                            "id": EXAMPLE_IDS["push_task"],
                            "base_version": 0,
                            "fields": {
                                "list": EXAMPLE_IDS["push_list"],
                                "title": "Milk",
                                "due": "2026-12-24",
                            },
                        },
                    ]
                },
            )
        ],
        responses={200: s.PushOutput, 413: PROBLEM_RESPONSES[400], **PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        body = request.data
        raw_ops = body.get("ops") if isinstance(body, dict) else None
        if not (type(raw_ops) is list and raw_ops):
            envelope = s.PushInput(data=body)  # no list of ops at all: the serializer explains
            envelope.is_valid(raise_exception=True)
            raw_ops = envelope.validated_data["ops"]
        # From here each element is an op on its own: one that is not even an object is rejected
        # alone (_parse_op), never the batch.
        if len(raw_ops) > settings.SYNC_PUSH_MAX_OPS:
            raise PushTooLarge(
                f"At most {settings.SYNC_PUSH_MAX_OPS} operations per push; send the rest in another.",
                extra={"max_ops": settings.SYNC_PUSH_MAX_OPS},
            )
        parsed = [_parse_op(raw) for raw in raw_ops]
        ops = [op for op in parsed if isinstance(op, services.PushOp)]
        applied = iter(services.sync_push(owner_id=owner_id(request), ops=ops))
        results = [next(applied) if isinstance(op, services.PushOp) else op for op in parsed]
        return Response({"results": results})


class AsyncApiView(APIView):
    """The AsyncAPI document: JSON, or YAML when the Accept header asks for it."""

    content_negotiation_class = AnyAccept  # YAML is answered by hand, not by a DRF renderer

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="AsyncAPI 3 document of the sync messages",
        description="JSON unless YAML is asked for (`Accept: application/yaml`); "
        "docs/asyncapi.yaml in the repository is the same document.",
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/yaml"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        wants_yaml = any(
            kind in request.headers.get("Accept", "") for kind in ("application/yaml", "text/yaml")
        )
        if not wants_yaml:
            return JsonResponse(asyncapi.document())
        return HttpResponse(asyncapi.render_yaml(), content_type="application/yaml")
