"""Notes and their revisions.

A note's text is searchable on PostgreSQL through a `search_vector` column that is deliberately
not a model field: migration 0002 adds it there as a stored generated column (with a GIN index),
so PostgreSQL keeps it current on every write path (services, admin, bulk updates) and it is never
fetched with the rows. On SQLite the column does not exist and search falls back to a substring
match (see selectors.note_search).

Soft delete: `deleted_at` marks a tombstone (the sync feed reports it). The default manager shows
tombstones too, because `purge_tombstones` finds them through it; selectors hide them.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from apps.common.models import SyncedModel

TITLE_MAX_LENGTH = 500

# The fields a client may edit. `field_versions` records, for each of them, the note version at
# which it last changed (the per-field merge of sync relies on it). `files` are links to the
# owner's library files (the `linked_files` relation).
EDITABLE_FIELDS: tuple[str, ...] = ("title", "body", "tags", "pinned", "archived", "files")
FILES_MAX_COUNT = 100
# What a field is when a create (or a PUT) does not mention it. services.clean_fields copies
# the lists before they are stored.
DEFAULTS: dict[str, Any] = {
    "title": "",
    "body": "",
    "tags": [],
    "pinned": False,
    "archived": False,
    "files": [],
}
# Changes to these keep the previous text as a revision.
REVISED_FIELDS: tuple[str, ...] = ("title", "body")


class Note(SyncedModel):
    sync_type = "note"
    editable_fields = EDITABLE_FIELDS

    # Indexed by the composite indexes below, which all start with the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes", db_index=False
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField(blank=True, help_text="Markdown, capped at NOTE_BODY_MAX_BYTES (UTF-8).")
    # Normalised (apps/common/tags.py): lower case, single spaces, unique, sorted.
    tags = models.JSONField(default=list, blank=True)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    linked_files = models.ManyToManyField("library.File", blank=True, related_name="+")

    class Meta:
        indexes = [
            # The default list: one owner's live notes, archived or not, pinned first, newest first.
            models.Index(
                fields=["owner", "archived", "-pinned", "-updated_at", "-id"],
                name="note_list",
                condition=models.Q(deleted_at__isnull=True),
            ),
            # `?updated_since=` and change scans.
            models.Index(fields=["owner", "updated_at"], name="note_owner_updated"),
        ]

    @property
    def files(self) -> list[uuid.UUID]:
        """Linked files that still exist, sorted (a deleted file's link disappears with it)."""
        return sorted(f.id for f in self.linked_files.all() if f.deleted_at is None)

    def __str__(self) -> str:
        return self.title or f"note {self.id}"


class NoteRevision(models.Model):
    """The title and body of a note as they were before a change (or a sync conflict's losing
    text). Numbered per note from 1 upwards; numbers are never reused, even after pruning."""

    class Reason(models.TextChoices):
        EDIT = "edit", "replaced by an edit"
        RESTORE = "restore", "replaced by restoring a revision"
        CONFLICT = "conflict", "lost a sync conflict"

    id = models.BigAutoField(primary_key=True)
    # Indexed by the unique (note, number) constraint.
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions", db_index=False)
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField(blank=True)
    # The note version this text belonged to; null when it never was the note's text (conflicts).
    note_version = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.EDIT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "number"], name="note_revision_number")]

    def __str__(self) -> str:
        return f"{self.note_id} #{self.number}"


class NoteStorage(models.Model):
    """Bytes of text a user's notes hold, their part of the one storage quota
    (apps/common/quota.py): title and body of every live note and of every revision of a live
    note (UTF-8). Deleted notes count for nothing (note_delete also drops their text).

    On PostgreSQL the row is kept by triggers (migration 0004), so every write path — services,
    bulk SQL, the admin, purges, account deletion — counts the same way, in the same
    transaction; reading it is one primary-key lookup however many notes there are. Elsewhere
    (SQLite, `make run`) selectors.note_storage_usage sums the rows instead."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    bytes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.bytes} bytes"
