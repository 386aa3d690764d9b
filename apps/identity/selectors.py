"""Reads of accounts and sessions.

Decisions that guard sign-in (who owns this e-mail, is this session live) read the primary:
a replica a few milliseconds behind must not refuse an account created a moment ago.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from apps.common.errors import NotFound

from .models import DeviceSession, User, normalize_email

PRIMARY = "default"


def user_get(*, user_id: uuid.UUID) -> User:
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def user_for_login(*, email: str) -> User | None:
    return User.objects.using(PRIMARY).filter(email=normalize_email(email)).first()


def user_list() -> QuerySet[User]:
    return User.objects.all()


def user_get_for_staff(*, user_id: uuid.UUID) -> User:
    user = User.objects.filter(id=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def session_list(*, user_id: uuid.UUID) -> QuerySet[DeviceSession]:
    return DeviceSession.objects.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-last_used_at", "-id")
