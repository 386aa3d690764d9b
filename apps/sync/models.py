"""The change feed, push idempotency records and KOReader progress records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SyncCounter(models.Model):
    """One row per user: the last sequence number handed out.

    Writers bump it inside their own transaction (`UPDATE ... RETURNING`), which row-locks it
    until they commit, so sequence numbers of one user become visible strictly in order.
    `floor_seq` is the highest sequence of a tombstone purged from the feed: a cursor below it
    may have missed a delete and must resync.
    """

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)
    floor_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.last_seq}"


class Change(models.Model):
    """The newest change of one object: the feed keeps one row per object, moved to a fresh
    sequence number on every change, so a pull returns each object at most once."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=32)
    object_id = models.UUIDField()
    seq = models.BigIntegerField()
    version = models.BigIntegerField()
    deleted = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "type", "object_id"], name="change_one_per_object"),
            # The pull's keyset: (owner, seq) is unique and indexed.
            models.UniqueConstraint(fields=["owner", "seq"], name="change_owner_seq"),
        ]
        indexes = [models.Index(fields=["deleted", "changed_at"], name="change_tombstone_age")]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id} @{self.seq}"


class PushedOp(models.Model):
    """The result of every applied push operation, by the client's op id: a retry of the same
    op returns this result instead of applying it again."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    op_id = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "op_id"], name="pushed_op_once")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.op_id}"
