"""What every resource's views share."""

from __future__ import annotations

import uuid

from rest_framework.request import Request


def owner_id(request: Request) -> uuid.UUID:
    """The signed-in user's id: whose objects the request may see. Only for views that require
    authentication (the default permission), where there always is one."""
    user_id = getattr(request.user, "id", None)
    assert isinstance(user_id, uuid.UUID)  # authentication is required before any view runs
    return user_id
