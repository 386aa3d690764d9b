"""Pull: the user's changes after a cursor, in sequence order.

The query is a keyset scan on the unique index (owner, seq): its cost grows with the page, not
with the account. It may run on a replica: a replica holds a consistent prefix of the primary's
commits, and the feed lock (feed.py) makes commit order equal sequence order per user, so a
replica that shows seq N also shows every change before it. A client may be behind, never wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import router

from apps.common import db
from apps.common.errors import ApplicationError, ErrorCode

from . import registry
from .models import Change, SyncCounter


class ResyncRequired(ApplicationError):
    status = 410
    code = ErrorCode.RESYNC_REQUIRED
    title = "Resync required"


@dataclass(frozen=True)
class Cursor:
    """Where a client is in the feed. Opaque to clients: `"<seq>"`, or `"<seq>f"` while a full
    sync is still paging (a client doing a full sync holds no objects yet, so deletes purged
    meanwhile cannot matter to it, and the retention check is skipped)."""

    seq: int = 0
    full_sync: bool = True

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        if raw == "":
            return cls()
        full = raw.endswith("f")
        digits = raw[:-1] if full else raw
        if not digits.isdigit() or len(digits) > 18:
            raise ValueError(raw)
        return cls(int(digits), full)

    def __str__(self) -> str:
        return f"{self.seq}{'f' if self.full_sync else ''}"


@dataclass(frozen=True)
class Page:
    changes: list[dict[str, Any]]
    cursor: Cursor
    has_more: bool


# What a change adds to the JSON of a page besides its object: {"seq":..,"type":..,"id":..,...}.
CHANGE_ENVELOPE_BYTES = 120

# The pull's keyset: a range scan on the unique (owner, seq) index, already in answer order.
FEED_PAGE_SQL = """
SELECT seq, type, object_id, version, deleted FROM sync_change
WHERE owner_id = %(owner)s AND seq > %(after)s {types}
ORDER BY seq LIMIT %(limit)s
"""
_OF_TYPES = "AND type = ANY(%(types)b::varchar[])"


def _feed_page(
    *, owner_id: uuid.UUID, after: int, limit: int, types: Sequence[str] | None
) -> list[tuple[int, str, uuid.UUID, int, bool]]:
    """Feed entries after `after`, oldest first. On PostgreSQL read in binary on a
    server-binding cursor (apps/common/db.py): the ORM's text parsing alone cost about what the
    whole query costs the database (figures: docs/benchmarks.md)."""
    using = router.db_for_read(Change)
    if not db.is_postgresql(using):
        entries = Change.objects.using(using).filter(owner_id=owner_id, seq__gt=after)
        if types:
            entries = entries.filter(type__in=types)
        return list(
            entries.order_by("seq").values_list("seq", "type", "object_id", "version", "deleted")[:limit]
        )
    with db.bound_cursor(using, binary=True) as cursor:
        cursor.execute(
            FEED_PAGE_SQL.format(types=_OF_TYPES if types else ""),
            {"owner": owner_id, "after": after, "types": list(types or ()), "limit": limit},
        )
        return list(cursor.fetchall())


def _counter(owner_id: uuid.UUID, using: str | None = None) -> tuple[int, int]:
    """The user's (floor, last seq); (0, 0) before their first write."""
    counters = SyncCounter.objects.using(using) if using else SyncCounter.objects
    row = counters.filter(owner_id=owner_id).values_list("floor_seq", "last_seq").first()
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


def _check_not_ahead(cursor: Cursor, owner_id: uuid.UUID, last_seq: int) -> None:
    """A cursor past the newest change was never issued by this server — or the server lost
    changes the client has seen (a database restored to an earlier time). Either way the
    client's copy cannot be trusted to be a prefix of the feed: it must sync afresh. A replica
    a little behind the one that issued the cursor looks the same, so the primary decides."""
    if cursor.seq > last_seq:
        _floor, last_seq = _counter(owner_id, using=router.db_for_write(SyncCounter))
    if cursor.seq > last_seq:
        raise ResyncRequired(
            "This cursor is ahead of the server's newest change. Start a full sync with an empty cursor.",
            extra={"last_seq": last_seq},
        )


def changes_since(
    *, owner_id: uuid.UUID, cursor: Cursor, limit: int, types: Sequence[str] | None = None
) -> Page:
    after = cursor.seq
    # A full sync is exempt from the retention check and needs the floor only on its last page.
    floor = 0
    if not cursor.full_sync:
        floor, last_seq = _counter(owner_id)
        _check_not_ahead(cursor, owner_id, last_seq)
    if not cursor.full_sync and after < floor:
        raise ResyncRequired(
            "This cursor is older than the tombstone retention: deletes may have been missed. "
            "Start a full sync with an empty cursor.",
            extra={"floor": floor},
        )
    rows = _feed_page(owner_id=owner_id, after=after, limit=limit + 1, types=types)
    has_more = len(rows) > limit
    rows = rows[:limit]

    budget = settings.SYNC_PULL_MAX_BYTES
    live_ids: dict[str, list[uuid.UUID]] = {}
    for _seq, kind, object_id, _version, deleted in rows:
        if not deleted:
            live_ids.setdefault(kind, []).append(object_id)
    data: dict[tuple[str, uuid.UUID], registry.Shaped | registry.OverBudget] = {}
    for kind, ids in live_ids.items():
        # Each type gets the whole budget (it cannot know the others'); the cut below is exact.
        fetched = registry.get(kind).fetch_shaped(owner_id=owner_id, ids=ids, max_bytes=budget)
        for feed_id, shaped in fetched.items():
            data[(kind, feed_id)] = shaped

    # The page ends at `limit` changes or SYNC_PULL_MAX_BYTES of JSON, whichever comes first,
    # with at least one change (an object larger than the budget still gets through, alone).
    changes: list[dict[str, Any]] = []
    used = 0
    for seq, kind, object_id, version, _deleted in rows:
        found = data.get((kind, object_id))
        if isinstance(found, registry.OverBudget):
            has_more = True
            break
        change: dict[str, Any]
        if found is None:  # deleted (or purged) since this entry was read: report the delete
            change = {"seq": seq, "type": kind, "op": "delete", "id": str(object_id), "version": version}
            change["data"] = None
            size = CHANGE_ENVELOPE_BYTES
        else:
            change = {
                "seq": seq,
                "type": kind,
                "op": "upsert",
                "id": str(object_id),
                "version": found.version,
            }
            change["data"] = orjson.Fragment(found.json)  # encoded once, by the type
            size = CHANGE_ENVELOPE_BYTES + len(found.json)
        if changes and used + size > budget:
            has_more = True
            break
        used += size
        changes.append(change)
    rows = rows[: len(changes)]
    last = rows[-1][0] if rows else after
    if has_more:
        next_cursor = Cursor(last, cursor.full_sync)
    elif cursor.full_sync:
        # A finished full sync has seen everything that still exists: its cursor starts at the
        # floor at least, so the next incremental pull is not mistaken for an outdated one.
        # (The floor only rises, and only below existing entries: reading it last is safe.)
        floor, last_seq = _counter(owner_id)
        _check_not_ahead(cursor, owner_id, last_seq)
        next_cursor = Cursor(max(last, floor), full_sync=False)
    else:
        next_cursor = Cursor(last, full_sync=False)
    return Page(changes=changes, cursor=next_cursor, has_more=has_more)
