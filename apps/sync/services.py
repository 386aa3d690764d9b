"""Push: apply a batch of client operations, each on its own, each at most once.

- The batch runs in one transaction opened with `owner_write` (the user's feed lock, see
  feed.py); each operation runs in its own savepoint, so a bad operation is rolled back alone and
  reported (`rejected`) while the others apply.
- Idempotency: the result of every operation is stored under its `op_id` (PushedOp, unique per
  user) in the same transaction as its effect. A retried op returns the stored result instead of
  applying again. Redis holds a copy for a fast answer without touching the database; the table
  is the truth, so with Redis down nothing is applied twice either. Two batches with the same op
  at the same moment are serialized by the feed lock: the second finds the first's record.
- A worker killed mid-batch commits nothing, so the client's retry applies everything once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.utils.encoders import JSONEncoder

from apps.common.errors import ApplicationError, flatten_errors

from . import registry
from .feed import owner_write
from .models import Change, PushedOp, SyncCounter

logger = logging.getLogger(__name__)

OP_CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class PushOp:
    op_id: str
    type: str
    action: str  # upsert | delete
    id: uuid.UUID
    base_version: int
    fields: Mapping[str, Any]


def _cache_key(owner_id: uuid.UUID, op_id: str) -> str:
    return f"sync:op:{owner_id}:{op_id}"


def _result(op: PushOp, outcome: registry.Outcome, sync_type: registry.SyncType) -> dict[str, Any]:
    result: dict[str, Any] = {
        "op_id": op.op_id,
        "status": outcome.status,
        "type": op.type,
        "id": str(op.id),
        "version": outcome.version,
    }
    if outcome.obj is not None and not sync_type.is_deleted(outcome.obj):
        result["data"] = sync_type.serialize([outcome.obj])[0]
    else:
        result["data"] = None
    if outcome.conflicts:
        result["conflicts"] = outcome.conflicts
    result.update(outcome.extra)
    return result


def _rejected(op: PushOp, exc: Exception) -> dict[str, Any]:
    errors: dict[str, list[str]] | None
    if isinstance(exc, ValidationError):
        code, detail, errors = (
            "validation_error",
            "The operation has invalid fields.",
            flatten_errors(exc.detail),
        )
    elif isinstance(exc, ApplicationError):
        code, detail, errors = exc.code, exc.detail, exc.errors
    else:  # pragma: no cover - only the two above are caught
        raise exc
    result: dict[str, Any] = {
        "op_id": op.op_id,
        "status": "rejected",
        "type": op.type,
        "id": str(op.id),
        "code": code,
        "detail": detail,
    }
    if errors:
        result["errors"] = errors
    return result


def _apply(owner_id: uuid.UUID, op: PushOp) -> dict[str, Any]:
    sync_type = registry.get(op.type)
    if op.action == "delete":
        outcome = sync_type.remove(owner_id=owner_id, obj_id=op.id, base_version=op.base_version)
    else:
        outcome = sync_type.upsert(
            owner_id=owner_id, obj_id=op.id, base_version=op.base_version, fields=op.fields
        )
    # Stored as JSON and returned again on retries: the same text both times.
    return json.loads(json.dumps(_result(op, outcome, sync_type), cls=JSONEncoder))


def _cached_results(owner_id: uuid.UUID, ops: Sequence[PushOp]) -> dict[str, dict[str, Any]]:
    keys = {_cache_key(owner_id, op.op_id): op.op_id for op in ops}
    found = cache.get_many(list(keys))
    return {keys[key]: value for key, value in found.items() if isinstance(value, dict)}


def _store_results(owner_id: uuid.UUID, results: list[dict[str, Any]], using: str) -> None:
    """PushedOp rows for many results at once. On PostgreSQL one pipelined executemany with the
    JSON written by orjson (the ORM's per-row JSON encoding was a third of a bulk push)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        PushedOp.objects.using(using).bulk_create(
            [PushedOp(owner_id=owner_id, op_id=result["op_id"], result=result) for result in results]
        )
        return
    table = connection.ops.quote_name(PushedOp._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (owner_id, op_id, result, created_at) VALUES (%s, %s, %s::jsonb, %s)",  # noqa: S608
            [(owner_id, result["op_id"], orjson.dumps(result).decode(), now) for result in results],
        )


def _create_new_in_bulk(
    owner_id: uuid.UUID,
    ops: Sequence[PushOp],
    pending: Sequence[tuple[int, PushOp]],
    stored: Mapping[str, Any],
    using: str,
) -> dict[int, dict[str, Any]]:
    """The fast path of a push: upserts that create new objects with plainly valid fields are
    applied together, per type, in a few statements (one INSERT, one feed update, one INSERT of
    their results) instead of a dozen per op. Only ops whose outcome cannot depend on the rest
    of the batch qualify: their op_id is new and used once, their object id appears in no other
    op and exists nowhere yet (checked under the feed lock). Their results are exactly what the
    one-by-one path would store (`applied`, version 1, the REST representation). Everything
    else — and everything, should the bulk insert fail (a concurrent create of the same id) —
    goes the one-by-one way. Returns results by op index."""
    op_ids = Counter(op.op_id for op in ops)
    object_ids = Counter(op.id for op in ops)
    by_type: dict[str, list[tuple[int, PushOp, dict[str, Any]]]] = {}
    for index, op in pending:
        if op.action != "upsert" or op.op_id in stored or op_ids[op.op_id] > 1 or object_ids[op.id] > 1:
            continue
        cleaned = registry.get(op.type).plain_create_fields(op.fields)
        if cleaned is not None:
            by_type.setdefault(op.type, []).append((index, op, cleaned))
    results: dict[int, dict[str, Any]] = {}
    for type_name, candidates in by_type.items():
        sync_type = registry.get(type_name)
        taken = set(
            sync_type.model._default_manager.using(using)
            .filter(id__in=[op.id for _, op, _ in candidates])
            .values_list("id", flat=True)
        )
        fresh = [(index, op, cleaned) for index, op, cleaned in candidates if op.id not in taken]
        if len(fresh) < 2:
            continue
        try:
            with transaction.atomic(using=using):
                shapes = sync_type.create_new(
                    owner_id=owner_id, items=[(op.id, cleaned) for _, op, cleaned in fresh]
                )
                made = {
                    index: {
                        "op_id": op.op_id,
                        "status": "applied",
                        "type": op.type,
                        "id": str(op.id),
                        "version": 1,
                        "data": shape,
                    }
                    for (index, op, _), shape in zip(fresh, shapes, strict=True)
                }
                _store_results(owner_id, list(made.values()), using)
        except (IntegrityError, OperationalError):
            logger.info("bulk create of %d %s ops fell back to one by one", len(fresh), type_name)
            continue
        results.update(made)
    return results


def sync_push(*, owner_id: uuid.UUID, ops: Sequence[PushOp]) -> list[dict[str, Any]]:
    """Apply `ops` in order; one result per op, in the same order."""
    results: dict[int, dict[str, Any]] = {}
    known = _cached_results(owner_id, ops)
    pending = []
    for index, op in enumerate(ops):
        if op.op_id in known:
            results[index] = known[op.op_id]
        else:
            pending.append((index, op))

    fresh: dict[str, dict[str, Any]] = {}
    if pending:
        using = router.db_for_write(PushedOp)
        with owner_write(owner_id=owner_id):
            stored = dict(
                PushedOp.objects.using(using)
                .filter(owner_id=owner_id, op_id__in=[op.op_id for _, op in pending])
                .values_list("op_id", "result")
            )
            for index, result in _create_new_in_bulk(owner_id, ops, pending, stored, using).items():
                stored[ops[index].op_id] = fresh[ops[index].op_id] = results[index] = result
            for index, op in pending:
                if index in results:
                    continue
                if op.op_id in stored:
                    results[index] = stored[op.op_id]
                    continue
                try:
                    with transaction.atomic(using=using):
                        result = _apply(owner_id, op)
                        PushedOp.objects.using(using).create(owner_id=owner_id, op_id=op.op_id, result=result)
                except (ApplicationError, ValidationError) as exc:
                    result = _rejected(op, exc)
                    PushedOp.objects.using(using).create(owner_id=owner_id, op_id=op.op_id, result=result)
                stored[op.op_id] = result  # the same op_id twice in one batch applies once
                fresh[op.op_id] = result
                results[index] = result
            transaction.on_commit(
                lambda: cache.set_many(
                    {_cache_key(owner_id, op_id): result for op_id, result in fresh.items()},
                    OP_CACHE_SECONDS,
                ),
                using=using,
            )
    return [results[index] for index in range(len(ops))]


def pushed_ops_purge(*, older_than: timedelta | None = None) -> int:
    """Forget op results older than the retention window (clients retry within minutes)."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.SYNC_OP_RETENTION_DAYS))
    deleted, _ = PushedOp.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def change_tombstones_purge(*, cutoff: Any) -> int:
    """Drop feed entries of objects deleted before `cutoff`, raising each user's floor so a
    cursor that could have missed one of those deletes is told to resync (410)."""
    purged = 0
    using = router.db_for_write(Change)
    owners = (
        Change.objects.using(using)
        .filter(deleted=True, changed_at__lt=cutoff)
        .values_list("owner_id", flat=True)
        .distinct()
    )
    for owner_id in list(owners):
        with owner_write(owner_id=owner_id):
            doomed = Change.objects.using(using).filter(
                owner_id=owner_id, deleted=True, changed_at__lt=cutoff
            )
            top = max(doomed.values_list("seq", flat=True), default=None)
            if top is None:
                continue
            count, _ = doomed.delete()
            SyncCounter.objects.using(using).filter(owner_id=owner_id, floor_seq__lt=top).update(
                floor_seq=top
            )
            purged += count
    return purged
