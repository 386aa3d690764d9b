"""Shared abstract bases for every mutable domain object (no concrete models live here).

Every write of a versioned object goes through `bump()`: one more version, the changed
client-editable fields stamped with it in `field_versions` (synced objects), `updated_at` now.
It returns the bookkeeping columns to save with the changed ones. Saving stays with the app
(some rows go in bulk, some through raw SQL); a synced object's feed entry is recorded after
the save with `apps.sync.feed.objects_record`, in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone


class Bumped:
    """`bump()` for any model with `version` and `updated_at` (accounts have no per-field
    versions and are not synced, so this is all they share with the objects below)."""

    bookkeeping: ClassVar[tuple[str, ...]] = ("version", "updated_at")

    def bump(self, changed: Iterable[str] = (), *, now: datetime | None = None) -> tuple[str, ...]:
        """Make the object one version newer (unsaved); returns the columns that changed with it.
        `changed` names the client-editable fields of this change (none for a delete)."""
        self.version += 1  # type: ignore[attr-defined]
        self.updated_at = now or timezone.now()
        return self.bookkeeping


class VersionedModel(Bumped, models.Model):
    """UUID primary key (clients may choose it, for offline creation), a `version` that grows by
    one on every change and is served as the ETag, and timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.PositiveBigIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SyncedModel(VersionedModel):
    """A user's object that devices sync: soft-deleted (a tombstone the feed reports until the
    purge), and merged per field. `field_versions` maps each client-editable field to the
    version at which it last changed (all 1 on create); deleting stamps no field (the tombstone
    is the change)."""

    # The object's name in the sync feed, and the fields a client may change.
    sync_type: ClassVar[str]
    editable_fields: ClassVar[tuple[str, ...]]

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    field_versions = models.JSONField(default=dict, blank=True, editable=False)

    bookkeeping: ClassVar[tuple[str, ...]] = ("version", "field_versions", "updated_at")

    class Meta:
        abstract = True

    def bump(self, changed: Iterable[str] = (), *, now: datetime | None = None) -> tuple[str, ...]:
        columns = super().bump(changed, now=now)
        self.field_versions = {**(self.field_versions or {}), **dict.fromkeys(changed, self.version)}
        return columns

    def tombstone(self, *, now: datetime | None = None) -> tuple[str, ...]:
        """Delete softly as one more version (unsaved); returns the columns that changed."""
        self.deleted_at = now or timezone.now()
        return ("deleted_at", *self.bump(now=self.deleted_at))

    def stamp_new(self) -> None:
        """Every editable field of a new object is at version 1."""
        self.field_versions = dict.fromkeys(self.editable_fields, 1)

    def editable_value(self, name: str) -> Any:
        """The current value of a client-editable field, in the form services compare (a type
        whose stored form differs from the wire's, like a task's due, says otherwise)."""
        return getattr(self, name)

    @property
    def feed_id(self) -> uuid.UUID:
        """The id the feed knows the object by (its own, unless a type says otherwise)."""
        return self.id

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
