"""Input serializers only validate; output serializers only shape responses."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common import quota
from apps.common.fields import StrictBooleanField, StrictCharField

from ..models import DeviceSession, User


def _check_password(value: str, *, user: Any = None) -> str:
    try:
        validate_password(value, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from None
    return value


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=256, write_only=True, trim_whitespace=False)
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        probe = User(email=attrs["email"], display_name=attrs.get("display_name", ""))
        try:
            validate_password(attrs["password"], user=probe)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class LoginInput(serializers.Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=256, trim_whitespace=False)
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class RefreshInput(serializers.Serializer):
    refresh = StrictCharField(max_length=4096)


class ReauthenticateInput(serializers.Serializer):
    password = StrictCharField(max_length=256, trim_whitespace=False)


class TokenPairOutput(serializers.Serializer):
    access = StrictCharField()
    refresh = StrictCharField()
    expires_in = serializers.IntegerField(
        help_text="Seconds the access token is valid from now (ACCESS_TOKEN_SECONDS): refresh before "
        "then; an expired one is refused with 401 `token_expired`."
    )


class PasswordChangeInput(serializers.Serializer):
    current_password = StrictCharField(max_length=256, trim_whitespace=False)
    new_password = StrictCharField(max_length=256, trim_whitespace=False)

    def validate_new_password(self, value: str) -> str:
        return _check_password(value)


class PasswordResetInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInput(serializers.Serializer):
    uid = StrictCharField(max_length=64)
    token = StrictCharField(max_length=128)
    new_password = StrictCharField(max_length=256, trim_whitespace=False)

    def validate_new_password(self, value: str) -> str:
        return _check_password(value)


class UserOutput(serializers.ModelSerializer):
    kosync_enabled = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "display_name",
            "is_staff",
            "date_joined",
            "kosync_enabled",
            "version",
            "updated_at",
        ]
        read_only_fields = fields

    def get_kosync_enabled(self, obj: User) -> bool:
        return bool(obj.kosync_key_hash)


class StorageOutput(serializers.Serializer):
    used_bytes = serializers.IntegerField(help_text="Everything counted against the quota.")
    quota_bytes = serializers.IntegerField()
    parts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="`used_bytes` by part: `files` (library files and uploads in progress) and "
        "`notes` (titles, bodies and kept revisions).",
    )


class MeOutput(UserOutput):
    storage = serializers.SerializerMethodField()

    class Meta(UserOutput.Meta):
        fields = [*UserOutput.Meta.fields, "storage"]
        read_only_fields = fields

    @extend_schema_field(StorageOutput)
    def get_storage(self, obj: User) -> dict[str, Any]:
        return quota.summary(user_id=obj.id)


class MeUpdateInput(serializers.Serializer):
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    kosync_password = StrictCharField(
        max_length=256,
        required=False,
        allow_blank=True,
        allow_null=True,
        write_only=True,
        trim_whitespace=False,
        help_text="Password to type into KOReader's progress sync (user name: your e-mail); "
        "empty or null turns KOReader sync off. Needs `current_password`.",
    )
    current_password = StrictCharField(
        max_length=256,
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="The account's password: required with `kosync_password` (it is a credential).",
    )


class StaffUserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "display_name",
            "is_active",
            "is_staff",
            "date_joined",
            "last_login",
            "version",
            "updated_at",
        ]
        read_only_fields = fields


class StaffUserUpdateInput(serializers.Serializer):
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)
    is_staff = StrictBooleanField(required=False)


class SessionOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = DeviceSession
        fields = [
            "id",
            "device_name",
            "user_agent",
            "ip_address",
            "created_at",
            "last_used_at",
            "expires_at",
            "current",
        ]
        read_only_fields = fields

    def get_current(self, obj: DeviceSession) -> bool:
        return str(obj.id) == str(self.context.get("current_session_id"))
