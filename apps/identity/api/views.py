"""Identity endpoints: thin views over services.py and selectors.py."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings

from apps.common.errors import NotFound
from apps.common.schema import PROBLEM_RESPONSES
from apps.common.versioning import ETagMixin, expected_version
from apps.common.views import owner_id

from .. import selectors, services
from ..authentication import require_recent_authentication
from ..models import DeviceSession
from ..throttling import AuthRateThrottle, client_ip
from . import serializers as s


class _AnonymousAuthView(APIView):
    """Identity endpoints that take credentials in the body, not a bearer token."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthRateThrottle]


# Long enough and uncommon enough for the password validators (a weak one would be refused).
EXAMPLE_PASSWORD = "correct horse battery staple"  # noqa: S105 (an example in the docs)


class RegisterView(_AnonymousAuthView):
    @extend_schema(
        request=s.RegisterInput,
        responses={201: s.UserOutput, **PROBLEM_RESPONSES},
        summary="Create an account",
        description="Answers the same way whether or not the address is already registered; "
        "the owner of a taken address receives an e-mail instead.",
        examples=[
            OpenApiExample(
                "An account",
                request_only=True,
                value={"email": "ann@example.com", "password": EXAMPLE_PASSWORD, "display_name": "Ann"},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(s.UserOutput(user).data, status=status.HTTP_201_CREATED)


def _tokens(pair: services.TokenPair) -> Response:
    body = s.TokenPairOutput(
        {
            "access": pair.access,
            "refresh": pair.refresh,
            "expires_in": int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        }
    ).data
    # Credentials: no cache (browser, proxy or CDN) may keep them (RFC 6749, section 5.1).
    return Response(body, headers={"Cache-Control": "no-store"})


class LoginView(_AnonymousAuthView):
    @extend_schema(
        request=s.LoginInput,
        responses={200: s.TokenPairOutput, **PROBLEM_RESPONSES},
        summary="Sign in (opens a session for this device)",
        examples=[
            OpenApiExample(
                "Sign in from a phone",
                request_only=True,
                value={
                    "email": "ann@example.com",
                    "password": EXAMPLE_PASSWORD,
                    "device_name": "Ann's phone",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.session_login(
            **data.validated_data,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return _tokens(pair)


class RefreshView(_AnonymousAuthView):
    @extend_schema(
        request=s.RefreshInput,
        responses={200: s.TokenPairOutput, **PROBLEM_RESPONSES},
        summary="Exchange a refresh token for a new pair (rotation)",
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.session_refresh(raw_refresh=data.validated_data["refresh"])
        return _tokens(pair)


class ReauthenticateView(APIView):
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        request=s.ReauthenticateInput,
        responses={200: s.TokenPairOutput, **PROBLEM_RESPONSES},
        summary="Prove the password again (for operations that need a recent sign-in)",
        description="Answers a new token pair for the same session, stamped as signed in now; "
        "deleting the account needs one less than REAUTHENTICATION_SECONDS old. Wrong passwords "
        "count towards the sign-in lockout.",
    )
    def post(self, request: Request) -> Response:
        data = s.ReauthenticateInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.session_reauthenticate(
            session_id=request.user.session_id,  # type: ignore[union-attr]
            password=data.validated_data["password"],
            ip=client_ip(request),
        )
        return _tokens(pair)


class LogoutView(_AnonymousAuthView):
    @extend_schema(
        request=s.RefreshInput,
        responses={204: None, **PROBLEM_RESPONSES},
        summary="End the session the refresh token belongs to",
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_logout(raw_refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    @extend_schema(
        request=s.PasswordChangeInput,
        responses={204: None, **PROBLEM_RESPONSES},
        summary="Change the password; every other session and KOReader sync are ended",
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user_id=owner_id(request),
            current_session=request.user.session_id,  # type: ignore[union-attr]
            ip=client_ip(request),
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(_AnonymousAuthView):
    @extend_schema(
        request=s.PasswordResetInput,
        responses={202: None, **PROBLEM_RESPONSES},
        summary="Mail a password-reset link (answers 202 whether or not the account exists)",
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(_AnonymousAuthView):
    @extend_schema(
        request=s.PasswordResetConfirmInput,
        responses={204: None, **PROBLEM_RESPONSES},
        summary="Set a new password with the mailed uid and token; ends every session",
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(ETagMixin, APIView):
    @extend_schema(responses={200: s.MeOutput, **PROBLEM_RESPONSES}, summary="The signed-in account")
    def get(self, request: Request) -> Response:
        return Response(s.MeOutput(selectors.user_get(user_id=owner_id(request))).data)

    @extend_schema(
        request=s.MeUpdateInput,
        responses={200: s.MeOutput, **PROBLEM_RESPONSES},
        summary="Update the signed-in account",
    )
    def patch(self, request: Request) -> Response:
        data = s.MeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        user = services.user_update(
            user_id=owner_id(request),
            fields=fields,
            expected_version=expected_version(request),
            current_password=fields.pop("current_password", None),
            ip=client_ip(request),
        )
        return Response(s.MeOutput(user).data)

    @extend_schema(
        responses={204: None, **PROBLEM_RESPONSES},
        summary="Delete the account and everything it owns",
        description="Needs a recent sign-in: an access token from a sign-in or from "
        "POST /v1/auth/reauthenticate at most REAUTHENTICATION_SECONDS (5 minutes) ago; "
        "otherwise 403 `reauthentication_required`.",
    )
    def delete(self, request: Request) -> Response:
        require_recent_authentication(request)
        services.user_delete(user_id=owner_id(request), expected_version=expected_version(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(generics.ListAPIView):
    serializer_class = s.SessionOutput
    cursor_ordering = ("-last_used_at", "-id")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return DeviceSession.objects.none()
        return selectors.session_list(user_id=owner_id(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "current_session_id": getattr(self.request.user, "session_id", None),
        }

    @extend_schema(summary="Signed-in devices of this account")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="users_me_sessions_end_all",
        responses={204: None, **PROBLEM_RESPONSES},
        summary="Sign out everywhere: end every session (this one too) and KOReader sync",
    )
    def delete(self, request: Request) -> Response:
        services.sessions_end_all(user_id=owner_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionDetailView(APIView):
    @extend_schema(responses={204: None, **PROBLEM_RESPONSES}, summary="Sign a device out")
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        if not services.session_revoke(user_id=owner_id(request), session_id=session_id):
            raise NotFound("No such session.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class IsStaff(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and getattr(request.user, "is_staff", False))


class StaffUserListView(generics.ListAPIView):
    permission_classes = [permissions.IsAuthenticated, IsStaff]
    serializer_class = s.StaffUserOutput
    cursor_ordering = ("-date_joined", "-id")

    def get_queryset(self) -> Any:
        qs = selectors.user_list()
        q = self.request.query_params.get("q")
        if q:
            qs = qs.filter(Q(email__icontains=q) | Q(display_name__icontains=q))
        return qs

    @extend_schema(
        summary="All accounts (staff only)",
        parameters=[OpenApiParameter("q", str, description="Search e-mail and display name")],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class StaffUserDetailView(ETagMixin, APIView):
    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(
        responses={200: s.StaffUserOutput, **PROBLEM_RESPONSES},
        summary="One account (staff only)",
    )
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        return Response(s.StaffUserOutput(selectors.user_get_for_staff(user_id=user_id)).data)

    @extend_schema(
        request=s.StaffUserUpdateInput,
        responses={200: s.StaffUserOutput, **PROBLEM_RESPONSES},
        summary="Update an account (staff only); deactivating ends its sessions",
    )
    def patch(self, request: Request, user_id: uuid.UUID) -> Response:
        data = s.StaffUserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        selectors.user_get_for_staff(user_id=user_id)
        user = services.user_update(
            user_id=user_id,
            fields=dict(data.validated_data),
            expected_version=expected_version(request),
        )
        return Response(s.StaffUserOutput(user).data)
