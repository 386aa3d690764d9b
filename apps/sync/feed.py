"""Recording changes in the feed — used by every app's write services.

Rule for every write of a user's data: open it with `owner_write(owner_id=...)` (a transaction
that first row-locks the user's SyncCounter), and after saving the changed objects record them
with `objects_record` (or, for rows written without models, `changes_record`).

Why the lock comes first: sequence numbers are taken from the counter row, and a row lock held
from the first statement to the commit makes one user's writes commit one after another, so
seq N+1 can never be visible while N is still to come (a puller never skips a change). Taking
it *first*, before any object row is locked, gives every transaction the same lock order
(counter, then objects), so a multi-object sync push and a single-object REST write of the same
user cannot deadlock. The price is that one user's writes are serialized — a person's devices
write rarely enough that this costs nothing measurable, while different users never wait on
each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.utils import timezone

from apps.common import db
from apps.common.models import SyncedModel

from . import events
from .models import Change, SyncCounter


@dataclass(frozen=True)
class ChangeSpec:
    type: str
    object_id: uuid.UUID
    version: int
    deleted: bool = False


def _db() -> str:
    return router.db_for_write(Change)


def _bump(owner_id: uuid.UUID, count: int, using: str) -> int:
    """Add `count` to the user's counter (creating it at 0) and return the new value; the row
    stays locked until the transaction ends."""
    connection = connections[using]
    table = connection.ops.quote_name(SyncCounter._meta.db_table)
    owner = owner_id.hex if connection.vendor == "sqlite" else owner_id
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner_id, last_seq, floor_seq) VALUES (%s, %s, 0) "  # noqa: S608
            f"ON CONFLICT (owner_id) DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq "
            "RETURNING last_seq",
            [owner, count],
        )
        return int(cursor.fetchone()[0])


def _lock(owner_id: uuid.UUID, using: str) -> None:
    """Row-lock the user's counter (creating it on first use) until the transaction ends. A
    plain SELECT ... FOR UPDATE writes nothing; SQLite serialises writers by itself."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    table = connection.ops.quote_name(SyncCounter._meta.db_table)
    select = f"SELECT 1 FROM {table} WHERE owner_id = %s FOR UPDATE"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(select, [owner_id])
        if cursor.fetchone() is None:
            cursor.execute(
                f"INSERT INTO {table} (owner_id, last_seq, floor_seq) VALUES (%s, 0, 0) "  # noqa: S608
                "ON CONFLICT (owner_id) DO NOTHING",
                [owner_id],
            )
            cursor.execute(select, [owner_id])


@contextmanager
def owner_write(*, owner_id: uuid.UUID) -> Iterator[None]:
    """A write transaction of one user's data, holding the user's feed lock (see above)."""
    using = _db()
    with transaction.atomic(using=using):
        _lock(owner_id, using)
        yield


# One round trip on PostgreSQL: bump the counter (as _bump does) and move every object's feed
# entry to its new seq, the entries sent as typed arrays (apps/common/db.py).
_RECORD = """
WITH counter AS (
    INSERT INTO sync_synccounter (owner_id, last_seq, floor_seq) VALUES (%(owner)s, %(count)s, 0)
    ON CONFLICT (owner_id) DO UPDATE SET last_seq = sync_synccounter.last_seq + excluded.last_seq
    RETURNING last_seq
)
INSERT INTO sync_change (owner_id, type, object_id, seq, version, deleted, changed_at)
SELECT %(owner)s, new.type, new.object_id, counter.last_seq - %(count)s + new.ordinal, new.version,
       new.deleted, %(now)s
FROM counter,
     unnest(%(types)b::varchar[], %(object_ids)b::uuid[], %(versions)b::bigint[], %(deleted)b::boolean[])
         WITH ORDINALITY AS new(type, object_id, version, deleted, ordinal)
ON CONFLICT (owner_id, type, object_id) DO UPDATE
    SET seq = excluded.seq, version = excluded.version, deleted = excluded.deleted,
        changed_at = excluded.changed_at
RETURNING seq
"""


def changes_record(*, owner_id: uuid.UUID, changes: Sequence[ChangeSpec]) -> list[int]:
    """Give each change the user's next sequence number and make it its object's feed entry.
    Must run inside `owner_write` (it is also correct, but less safe from deadlocks, without)."""
    latest: dict[tuple[str, uuid.UUID], ChangeSpec] = {}
    for spec in changes:
        latest[(spec.type, spec.object_id)] = spec  # one entry per object, the newest wins
    if not latest:
        return []
    using = _db()
    specs = list(latest.values())
    seqs = _record(owner_id, specs, using)
    # The live stream hears of it once this commits (apps/sync/events.py).
    events.announce(owner_id=owner_id, seq=seqs[-1], types={spec.type for spec in specs}, using=using)
    return seqs


def _record(owner_id: uuid.UUID, specs: list[ChangeSpec], using: str) -> list[int]:
    now = timezone.now()
    with transaction.atomic(using=using, savepoint=False):
        if db.is_postgresql(using):
            with db.bound_cursor(using) as cursor:
                cursor.execute(
                    _RECORD,
                    {
                        "owner": owner_id,
                        "count": len(specs),
                        "now": now,
                        "types": [spec.type for spec in specs],
                        "object_ids": [spec.object_id for spec in specs],
                        "versions": [spec.version for spec in specs],
                        "deleted": [spec.deleted for spec in specs],
                    },
                )
                return sorted(row[0] for row in cursor.fetchall())
        last = _bump(owner_id, len(specs), using)
        first = last - len(specs) + 1
        Change.objects.using(using).bulk_create(
            [
                Change(
                    owner_id=owner_id,
                    type=spec.type,
                    object_id=spec.object_id,
                    seq=first + index,
                    version=spec.version,
                    deleted=spec.deleted,
                    changed_at=now,
                )
                for index, spec in enumerate(specs)
            ],
            update_conflicts=True,
            unique_fields=["owner", "type", "object_id"],
            update_fields=["seq", "version", "deleted", "changed_at"],
        )
    return list(range(first, last + 1))


def objects_record(objs: Sequence[SyncedModel]) -> None:
    """Record saved objects (each at its new version, a tombstone as deleted) in their owners'
    feeds: one statement per owner."""
    by_owner: dict[uuid.UUID, list[ChangeSpec]] = {}
    for obj in objs:
        by_owner.setdefault(obj.owner_id, []).append(  # type: ignore[attr-defined]
            ChangeSpec(obj.sync_type, obj.feed_id, obj.version, deleted=obj.is_deleted)
        )
    for owner_id, changes in by_owner.items():
        changes_record(owner_id=owner_id, changes=changes)
