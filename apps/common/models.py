"""Shared abstract base for every mutable domain object (no concrete models live here)."""

from __future__ import annotations

import uuid

from django.db import models


class VersionedModel(models.Model):
    """UUID primary key (clients may choose it, for offline creation), a `version` that grows by
    one on every change and is served as the ETag, and timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.PositiveBigIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
