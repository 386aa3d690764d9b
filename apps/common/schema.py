"""OpenAPI pieces shared by every app: the problem+json error shape."""

from __future__ import annotations

import inspect
import json
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from .errors import ERROR_CODES
from .versioning import ETagMixin


# The members an error may carry beside RFC 9457's and `code`, each set where it is raised
# (`extra=`); a test (tests/test_error_codes.py) finds every `extra` key of apps/ here.
def _problem_fields() -> dict[str, serializers.Field]:
    # DRF orders a serializer's fields by when they were made: RFC 9457's members first.
    fields: dict[str, serializers.Field] = {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(
            choices=ERROR_CODES,
            help_text="Stable, machine-readable; docs/api.md says when each is used. A client built "
            "by hand should treat a code it does not know by the HTTP status.",
        ),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Field errors, keyed by the field's path (`ops.2.fields.title`).",
        ),
    }
    return {**fields, **_problem_extras()}


def _problem_extras() -> dict[str, serializers.Field]:
    def integer(text: str) -> serializers.Field:
        return serializers.IntegerField(required=False, help_text=text)

    def parts(text: str) -> serializers.Field:
        return serializers.ListField(child=serializers.IntegerField(), required=False, help_text=text)

    return {
        "current_version": integer("412 `precondition_failed`: the object's version now (also the ETag)."),
        "version": integer("`base_version_ahead`: the server's version of the object."),
        "current": serializers.DictField(
            required=False,
            help_text="409 `stale_viewer_state`: the stored viewer state (as GET …/viewer-state answers).",
        ),
        "applied": serializers.BooleanField(
            required=False, help_text="A viewer-state op in a push: whether it became the current position."
        ),
        "reason": serializers.CharField(
            required=False,
            help_text="415: why the file was refused (e.g. `zip_corrupt`); 422 `invalid_archive`: which rule "
            "the archive broke (e.g. `path_traversal`); a viewer-state op: `regression`.",
        ),
        "max_bytes": integer("413, `invalid_archive` `too_large`: the size limit that was passed."),
        "max_depth": integer("`json_too_deep`: the nesting limit."),
        "max_ops": integer("`push_too_large`: how many ops one push may carry."),
        "used_bytes": integer("`quota_exceeded`: the storage the account uses."),
        "quota_bytes": integer("`quota_exceeded`: the account's quota."),
        "missing_parts": parts("`upload_incomplete`: the parts not uploaded yet."),
        "wrong_size_parts": parts("`upload_incomplete`: the parts of the wrong size."),
        "upload_status": serializers.CharField(required=False, help_text="`upload_not_pending`: its status."),
        "last_seq": integer("A cursor from the future: the feed's last seq."),
        "floor": integer("410 `resync_required`: the oldest seq kept (pull again from an empty cursor)."),
    }


PROBLEM_EXTRAS = tuple(_problem_extras())
Problem = inline_serializer(name="Problem", fields=_problem_fields())

# Client-chosen ids in the request examples, so one example can name another's object (the task
# example goes in the list the list example creates). tests/test_examples.py sends every example.
EXAMPLE_IDS = {
    "list": "6f1d2c3a-5b4e-4f70-8a9b-0c1d2e3f4a5b",
    "task": "7a2e3d4b-6c5f-4081-9bac-1d2e3f4a5b6c",
    "note": "8b3f4e5c-7d60-4192-acbd-2e3f4a5b6c7d",
    "push_list": "9c405f6d-8e71-42a3-bdce-3f4a5b6c7d8e",
    "push_task": "ad516a7e-9f82-43b4-8edf-4a5b6c7d8e9f",
}

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


REF = "#/components/schemas/"
_PROBLEM_REF = {"$ref": REF + "Problem"}
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


def defaults_in_descriptions(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: no request schema declares a `default`.

    In a PATCH body (and a push's fields) an absent field stays as it is, so a declared default
    is wrong there: a client generated from the schema fills it in and overwrites what the user
    did not touch. In a create or PUT body the server applies its defaults itself, but generators
    read a declared default as "always present" (openapi-typescript makes the field required).
    So request schemas say the default in words instead, and the server stays the one that
    applies it."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop in component.get("properties", {}).values():
            _move_default(prop, keep_words=not name.startswith("Patched"))
    return result


def _move_default(prop: dict[str, Any], *, keep_words: bool) -> None:
    for branch in prop.get("oneOf", []) + prop.get("allOf", []):
        if isinstance(branch, dict) and "default" in branch:
            prop.setdefault("default", branch.pop("default"))
    if "default" not in prop:
        return
    default = prop.pop("default")
    if keep_words:
        said = json.dumps(default, ensure_ascii=False)
        text = prop.get("description", "").rstrip()
        if text and not text.endswith((".", ")", ":")):
            text += "."
        prop["description"] = f"{text} Default: `{said}`.".strip()


def _header(description: str, **schema: Any) -> dict[str, Any]:
    # Declared only where the server always sends it, so `required` holds (and is checked).
    return {"description": description, "required": True, "schema": {"type": "string", **schema}}


_REQUEST_ID = _header(
    "The request's id, in the server's logs too (sent back when the request had a well-formed one)."
)
_RETRY_AFTER = _header("Seconds to wait before trying again.", pattern="^[0-9]+$")
_ETAG = _header('The object\'s version, quoted (`"7"`): send it back as If-Match.', pattern='^"[0-9]+"$')
_LOCATION = _header("The path of the object (`/v1/...`).")
_CONTENT_RANGE = _header("The bytes sent (`bytes 0-99/1234`), or the size after a 416 (`bytes */1234`).")


def _component(result: dict, schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith(REF):
        found: dict[str, Any] = result["components"]["schemas"].get(ref[len(REF) :], {})
        return found
    return schema


# Set by OwnDocsSchema on the operations of ETagMixin views, read (and removed) by the hook below.
_SENDS_ETAG = "x-sends-etag"


def documented_headers(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: the response headers the server sends, declared once
    by rule rather than per view (schemathesis' header conformance check in tests/security holds
    the server to them):
    - `X-Request-ID` on every answer (RequestIdMiddleware);
    - `Retry-After` on 429 and 503;
    - `ETag` on a successful answer of an ETagMixin view whose body is one versioned object (the
      mixin's own rule), and on the 412 of an operation that takes If-Match;
    - `Location` on both answers of a create that may be repeated (201 made, 200 already there:
      apps/common/views.created_response);
    - `Content-Range` on 206 and 416."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            sends_etag = operation.pop(_SENDS_ETAG, False)
            takes_if_match = any(p.get("name") == "If-Match" for p in operation.get("parameters", []))
            repeatable_create = method == "post" and {"200", "201"} <= set(responses)
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = _REQUEST_ID
                if status in ("429", "503"):
                    headers["Retry-After"] = _RETRY_AFTER
                if status in ("206", "416"):
                    headers["Content-Range"] = _CONTENT_RANGE
                if repeatable_create and status in ("200", "201"):
                    headers["Location"] = _LOCATION
                if status == "412" and takes_if_match:
                    headers["ETag"] = _ETAG
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and body and sends_etag:
                    properties = _component(result, body).get("properties", {})
                    if properties.get("version", {}).get("type") == "integer" and "results" not in properties:
                        headers["ETag"] = _ETAG
    return result


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The version the change is based on, as its ETag (`"7"`): 412 '
    "`precondition_failed` when the object has changed since. Without it the write proceeds.",
)


class OwnDocsSchema(AutoSchema):
    """drf-spectacular describes an operation with the first docstring on the view's bases when
    the view has none: internal mixins' notes for maintainers (ETagMixin's, StorageOutageMixin's)
    were published as the description of twenty operations. An operation is described only by its
    own handler's docstring, or its view class's own, or `extend_schema`. It also declares
    If-Match on the methods a view honours it on."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and isinstance(self.view, ETagMixin):
            operation[_SENDS_ETAG] = True
        return operation

    def get_override_parameters(self) -> list[Any]:
        """If-Match on exactly the methods a view honours it on (ETagMixin.conditional_methods)."""
        parameters = list(super().get_override_parameters())
        if self.method in getattr(self.view, "conditional_methods", ()):
            parameters.append(IF_MATCH)
        return parameters

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's own ignore
        view_class = type(self.view)
        handler_name = getattr(self.view, "action", None) or self.method.lower()
        handler = view_class.__dict__.get(handler_name)
        for doc in (getattr(handler, "__doc__", None), view_class.__dict__.get("__doc__")):
            if doc:
                return inspect.cleandoc(doc)
        return ""
