"""OpenAPI pieces shared by every app: the problem+json error shape."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from .errors import ErrorCode

Problem = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(
            help_text="Stable, machine-readable: one of "
            + ", ".join(f"`{code}`" for code in ErrorCode)
            + ". New codes may be added; treat an unknown one by its HTTP status."
        ),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

_problem = OpenApiResponse(response=Problem, description="problem+json error")

PROBLEM_RESPONSES = {
    400: _problem,
    401: _problem,
    403: _problem,
    404: _problem,
    409: _problem,
    412: _problem,
    429: _problem,
}


def drop_trailing_slash_aliases(endpoints: list[tuple]) -> list[tuple]:
    """drf-spectacular preprocessing hook: canonical paths have no trailing slash; routes that
    also accept one (KOReader's protocol does) are documented once, without it."""
    return [endpoint for endpoint in endpoints if not endpoint[0].endswith("/")]


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Errors any operation can answer: bad input, a stale or bad cursor/id, throttling, and a
# database or storage outage (503 with Retry-After); plus 401/403 where a token is required.
_ALWAYS = {"400", "404", "429", "503"}
_SECURED = {"401", "403"}


def problem_media_type(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: errors are served as application/problem+json
    (apps/common/errors.py), so every error response that carries the Problem shape is documented
    under that media type instead of application/json, and every operation documents the error
    statuses any request can meet."""
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                content = response.get("content") if isinstance(response, dict) else None
                if not content or not str(status).isdigit() or int(status) < 400:
                    continue
                body = content.get("application/json")
                if body and str(body.get("schema", {}).get("$ref", "")).endswith("/Problem"):
                    content["application/problem+json"] = content.pop("application/json")
            if "/kosync/" in path:
                continue  # KOReader's protocol has its own error shape (specs/kosync)
            secured = any(requirement for requirement in operation.get("security", []))
            for status in sorted(_ALWAYS | (_SECURED if secured else set())):
                responses.setdefault(
                    status,
                    {
                        "description": "problem+json error",
                        "content": {"application/problem+json": {"schema": dict(_PROBLEM_REF)}},
                    },
                )
    return result


def no_defaults_in_patches(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: in a PATCH body (and a push's fields) an absent field
    stays as it is, so the defaults a PUT or create applies must not be declared there: a client
    generated from the schema would fill them in and overwrite what the user did not touch."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.startswith("Patched"):
            for prop in component.get("properties", {}).values():
                prop.pop("default", None)
    return result


class OwnDocsSchema(AutoSchema):
    """drf-spectacular describes an operation with the first docstring on the view's bases when
    the view has none: internal mixins' notes for maintainers (ETagMixin's, StorageOutageMixin's)
    were published as the description of twenty operations. An operation is described only by its
    own handler's docstring, or its view class's own, or `extend_schema`."""

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's own ignore
        view_class = type(self.view)
        handler_name = getattr(self.view, "action", None) or self.method.lower()
        handler = view_class.__dict__.get(handler_name)
        for doc in (getattr(handler, "__doc__", None), view_class.__dict__.get("__doc__")):
            if doc:
                return inspect.cleandoc(doc)
        return ""
