"""Accounts and their sign-in sessions (one per device / refresh-token family)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from apps.common.models import Bumped


def normalize_email(email: str) -> str:
    """E-mail addresses are unique without regard to case: `Ann@X.org` and `ann@x.org` are one."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(Bumped, AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    version = models.PositiveBigIntegerField(default=1, editable=False)
    # Stamped by the writes (services, admin) rather than auto_now: registration gives a new
    # account one timestamp for both, as its no-enumeration stand-in has.
    updated_at = models.DateTimeField(default=timezone.now)
    # Slow hash of the key KOReader sends (md5 of the kosync password); empty: kosync off.
    kosync_key_hash = models.CharField(max_length=256, blank=True)
    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]  # Django's own declaration

    class Meta:
        ordering = ["-date_joined"]

    def __str__(self) -> str:
        return self.email


class DeviceSession(models.Model):
    """A signed-in device. Its id is the `sid` claim of every token issued to it, and only the
    newest refresh token (`refresh_jti`) may be exchanged: presenting an older one means the
    token was stolen or replayed, and the whole session is revoked — except the one it replaced,
    again within seconds of the exchange (a retry after a lost answer)."""

    class RevokeReason(models.TextChoices):
        LOGOUT = "logout", "signed out"
        USER = "user", "revoked by the user"
        REFRESH_REUSE = "refresh_reuse", "a rotated refresh token was reused"
        PASSWORD_CHANGE = "password_change", "the password was changed"
        PASSWORD_RESET = "password_reset", "the password was reset"
        STAFF = "staff", "revoked by staff"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    device_name = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    refresh_jti = models.CharField(max_length=64)
    # The refresh token this one replaced, and when: presented again within
    # REFRESH_RETRY_SECONDS it is a retry whose answer was lost (a reload, a dropped
    # connection), not a replay (services.session_refresh).
    previous_refresh_jti = models.CharField(max_length=64, blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the password was last proved in this session (sign-in, re-authentication): the
    # `auth_time` of its tokens.
    authenticated_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)

    class Meta:
        ordering = ["-last_used_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="session_user_active")]

    def __str__(self) -> str:
        return f"{self.device_name or 'device'} ({self.user_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
