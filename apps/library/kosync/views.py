"""KOReader's progress-sync endpoints under /v1/sync/kosync (see protocol.py for the rules).

Plain DRF views with the protocol's own error bodies: no bearer auth (KOReader sends
x-auth-user / x-auth-key), no content negotiation (KOReader asks for a vendor media type but
reads `application/json`), the body parsed here so bad JSON gets the protocol's codes.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.common import parsers
from apps.common.schema import OwnDocsSchema
from apps.common.views import AnyAccept
from apps.identity import services as identity_services
from apps.identity.throttling import AuthRateThrottle, client_ip

from . import progress, protocol
from .protocol import KosyncError

_ERROR = inline_serializer(
    "KosyncError", {"code": serializers.IntegerField(), "message": serializers.CharField()}
)
# Every kosync request must say which protocol it speaks (412 otherwise, as KOReader's reference
# server answers). OpenAPI tools may treat an `Accept` parameter as informational, so the
# operation descriptions say it too; the generated clients in tests/clients send it from here.
_ACCEPT = OpenApiParameter(
    "Accept",
    {"$ref": "#/components/schemas/KosyncAcceptEnum"},
    OpenApiParameter.HEADER,
    required=True,
    description=f"`{protocol.MEDIA_TYPE}` (what KOReader sends) or `application/json`; "
    "missing or anything else is 412 (code 101).",
)
_AUTH_HEADERS = [
    _ACCEPT,
    OpenApiParameter(
        "x-auth-user", str, OpenApiParameter.HEADER, required=True, description="The account's e-mail"
    ),
    OpenApiParameter(
        "x-auth-key",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description="md5 hex of the kosync password (set with PATCH /v1/users/me `kosync_password`)",
    ),
]


class KosyncNoProgress(serializers.Serializer):
    """What a progress GET answers for a document with no stored position: `{}`."""


class KosyncNoProgressSchema(OpenApiSerializerExtension):
    """An object with no members at all (so a stored progress never also matches it)."""

    target_class = KosyncNoProgress

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {},
            "additionalProperties": False,
            "description": KosyncNoProgress.__doc__,
        }


class KosyncSchema(OwnDocsSchema):
    """The protocol's bodies are JSON, read by the view itself (KosyncView.body), so DRF's parser
    list is empty and drf-spectacular would document no request body. Every operation says how
    the protocol differs from the rest of the API."""

    def map_parsers(self) -> list[str]:
        return ["application/json"]

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's own ignore
        return (
            "KOReader's progress-sync protocol (docs/sync.md), for e-readers: every request carries "
            "`Accept` (412 otherwise), signed-in ones `x-auth-user` (the account's e-mail) and "
            "`x-auth-key` (md5 of the kosync password set on PATCH /v1/users/me); errors are "
            "`{code, message}` as KOReader expects, not problem+json."
        )


class KosyncView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    content_negotiation_class = AnyAccept
    parser_classes: list[Any] = []
    schema = KosyncSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The reference server checks the Accept header, then parses the body, then routes.
        protocol.check_accept(request.headers.get("Accept"))
        self.data = self.body(request)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, KosyncError):
            return JsonResponse({"code": exc.code, "message": exc.message}, status=exc.status)
        return super().handle_exception(exc)

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise Http404  # the reference server has no route for other methods

    def body(self, request: Request) -> dict[str, Any]:
        """The body by the API's JSON rules (apps/common/parsers.py) in the protocol's terms:
        what cannot be parsed (malformed, too deep, too large) is `bad_json`, text that cannot
        be stored is an invalid request."""
        try:
            raw = parsers.read_body(request._request)
            data = parsers.loads(raw) if raw else {}
        except parsers.UnstorableText:
            raise KosyncError("invalid_request") from None
        except (parsers.InvalidJSON, parsers.JSONTooDeep, RequestDataTooBig):
            raise KosyncError("bad_json") from None
        if not isinstance(data, dict):
            raise KosyncError("not_a_hash")
        return data

    def owner(self, request: Request) -> uuid.UUID:
        return protocol.authenticate(
            username=request.headers.get("x-auth-user"),
            key=request.headers.get("x-auth-key"),
            ip=client_ip(request),
        )


class RegisterView(KosyncView):
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        summary="KOReader: register (off unless KOSYNC_REGISTRATION_ENABLED)",
        parameters=[_ACCEPT],
        request=inline_serializer(
            "KosyncRegister", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses={
            201: inline_serializer("KosyncRegistered", {"username": serializers.CharField()}),
            402: _ERROR,
            403: _ERROR,
        },
    )
    def post(self, request: Request) -> JsonResponse:
        if not settings.KOSYNC_REGISTRATION_ENABLED:
            raise KosyncError("registration_disabled")
        data = self.data
        username, key = data.get("username"), data.get("password")
        # The account is named by its e-mail (at most 254 characters); the key is an md5 digest.
        if not isinstance(username, str) or not username or ":" in username or len(username) > 254:
            raise KosyncError("invalid_request")
        if not isinstance(key, str) or not key or len(key) > 256:
            raise KosyncError("invalid_request")
        if not identity_services.user_register_for_kosync(email=username, key=key):
            raise KosyncError("username_taken")
        return JsonResponse({"username": username}, status=201)


class AuthView(KosyncView):
    @extend_schema(
        summary="KOReader: check credentials",
        parameters=_AUTH_HEADERS,
        responses={
            200: inline_serializer("KosyncAuthorized", {"authorized": serializers.CharField()}),
            401: _ERROR,
        },
    )
    def get(self, request: Request) -> JsonResponse:
        self.owner(request)
        return JsonResponse({"authorized": "OK"})


_PROGRESS = inline_serializer(
    "KosyncProgress",
    {
        "document": serializers.CharField(),
        "progress": serializers.CharField(),
        "percentage": serializers.FloatField(),
        "device": serializers.CharField(),
        "device_id": serializers.CharField(required=False),
        "timestamp": serializers.IntegerField(required=False),
    },
)


class ProgressPutView(KosyncView):
    @extend_schema(
        summary="KOReader: store reading progress (last write wins)",
        parameters=_AUTH_HEADERS,
        request=_PROGRESS,
        responses={
            200: inline_serializer(
                "KosyncStored", {"document": serializers.CharField(), "timestamp": serializers.IntegerField()}
            ),
            401: _ERROR,
            403: _ERROR,
        },
    )
    def put(self, request: Request) -> JsonResponse:
        owner = self.owner(request)
        data = self.data
        document = data.get("document")
        if not isinstance(document, str) or not document or ":" in document:
            raise KosyncError("no_document")
        if not protocol.DOCUMENT.match(document):
            raise KosyncError("invalid_request")  # an id the GET route could never serve back
        percentage = data.get("percentage")
        try:
            value = (
                float(percentage)
                if isinstance(percentage, (int, float, str)) and not isinstance(percentage, bool)
                else math.nan
            )
        except (TypeError, ValueError):
            raise KosyncError("invalid_request") from None
        progress_value, device = data.get("progress"), data.get("device")
        device_id = data.get("device_id")
        if (
            not math.isfinite(value)
            or not 0 <= value <= 1
            or not isinstance(progress_value, (str, int, float))
            or isinstance(progress_value, bool)
            or not isinstance(device, str)
            or (device_id is not None and not isinstance(device_id, str))
            or len(str(progress_value)) > 2000
            or len(device) > 200
            or len(device_id or "") > 100
        ):
            raise KosyncError("invalid_request")
        timestamp = progress.progress_put(
            owner_id=owner,
            document=document,
            progress=str(progress_value),
            percentage=value,
            device=device,
            device_id=device_id,
        )
        return JsonResponse({"document": document, "timestamp": timestamp})


class ProgressGetView(KosyncView):
    @extend_schema(
        summary="KOReader: reading progress of a document ({} when none)",
        parameters=_AUTH_HEADERS,
        responses={
            200: PolymorphicProxySerializer(
                component_name="KosyncProgressAnswer",
                serializers=[_PROGRESS, KosyncNoProgress],
                resource_type_field_name=None,
            ),
            401: _ERROR,
        },
    )
    def get(self, request: Request, document: str) -> JsonResponse:
        owner = self.owner(request)
        return JsonResponse(progress.progress_get(owner_id=owner, document=document))


class HealthView(KosyncView):
    @extend_schema(
        summary="KOReader: health check",
        parameters=[_ACCEPT],
        responses={200: inline_serializer("KosyncHealth", {"state": serializers.CharField()})},
    )
    def get(self, request: Request) -> JsonResponse:
        return JsonResponse({"state": "OK"})
