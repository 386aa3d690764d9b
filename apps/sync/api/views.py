"""/v1/sync: pull the change feed, push operations. Thin views over selectors and services."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import ApplicationError, flatten_errors
from apps.common.schema import PROBLEM_RESPONSES

from .. import asyncapi, selectors, services
from . import serializers as s


def _owner(request: Request) -> uuid.UUID:
    owner = getattr(request.user, "id", None)
    assert isinstance(owner, uuid.UUID)  # authenticated views only
    return owner


class ChangesView(APIView):
    @extend_schema(
        summary="Changes after a cursor (empty cursor: full sync)",
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
            owner_id=_owner(request),
            cursor=query.validated_data["cursor"],
            limit=limit,
            types=query.validated_data["types"],
        )
        return Response({"changes": page.changes, "cursor": str(page.cursor), "has_more": page.has_more})


class PushTooLarge(ApplicationError):
    status = 413
    code = "push_too_large"


def _parse_op(raw: Any) -> services.PushOp | dict[str, Any]:
    """A valid op, or the `rejected` result of an invalid envelope."""
    op = s.PushOpInput(data=raw)
    if op.is_valid():
        data = op.validated_data
        return services.PushOp(
            op_id=data["op_id"],
            type=data["type"],
            action=data["action"],
            id=data["id"],
            base_version=data["base_version"],
            fields=data["fields"],
        )
    raw_dict = raw if isinstance(raw, dict) else {}
    return {
        "op_id": raw_dict.get("op_id") if isinstance(raw_dict.get("op_id"), str) else None,
        "status": "rejected",
        "type": raw_dict.get("type") if isinstance(raw_dict.get("type"), str) else None,
        "id": raw_dict.get("id") if isinstance(raw_dict.get("id"), str) else None,
        "code": "validation_error",
        "detail": "The operation is malformed.",
        "errors": flatten_errors(op.errors),
    }


class PushView(APIView):
    @extend_schema(
        summary="Apply a batch of operations; one result per operation",
        request=s.Push,
        responses={200: s.PushOutput, 413: PROBLEM_RESPONSES[400], **PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        envelope = s.PushInput(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw_ops = envelope.validated_data["ops"]
        if len(raw_ops) > settings.SYNC_PUSH_MAX_OPS:
            raise PushTooLarge(
                f"At most {settings.SYNC_PUSH_MAX_OPS} operations per push; send the rest in another.",
                extra={"max_ops": settings.SYNC_PUSH_MAX_OPS},
            )
        parsed = [_parse_op(raw) for raw in raw_ops]
        ops = [op for op in parsed if isinstance(op, services.PushOp)]
        applied = iter(services.sync_push(owner_id=_owner(request), ops=ops))
        results = [next(applied) if isinstance(op, services.PushOp) else op for op in parsed]
        return Response({"results": results})


class AsyncApiView(APIView):
    """The AsyncAPI document (YAML; JSON with `?format=json` or `Accept: application/json`)."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(summary="AsyncAPI 3 document of the sync messages", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> HttpResponse:
        wants_json = request.query_params.get(
            "format"
        ) == "json" or "application/json" in request.headers.get("Accept", "")
        if wants_json:
            return JsonResponse(asyncapi.document())
        return HttpResponse(asyncapi.render_yaml(), content_type="application/yaml")
