"""Push: apply a batch of client operations, each on its own, each at most once.

- The batch runs in one transaction opened with `owner_write` (the user's feed lock, see
  feed.py); each operation runs in its own savepoint, so a bad operation is rolled back alone and
  reported (`rejected`) while the others apply.
- Idempotency: the result of every operation is stored under its `op_id` (PushedOp, unique per
  user) in the same transaction as its effect. A retried op returns the stored result instead of
  applying again. The stored results are read under the feed lock, so two batches with the same
  op at the same moment are serialized and the second finds the first's record. There is no
  cache in front of the table: one indexed read per batch is cheaper than a Redis read and
  write of 100 keys (figures: docs/benchmarks.md), and nothing depends on Redis being up.
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
from enum import StrEnum
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, router, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.utils.encoders import JSONEncoder

from apps.common import db
from apps.common.errors import ApplicationError, ErrorCode, flatten_errors

from . import registry
from .feed import owner_write
from .models import Change, PushedOp, SyncCounter

logger = logging.getLogger(__name__)


class PushAction(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True)
class PushOp:
    op_id: str
    type: str
    action: PushAction
    id: uuid.UUID
    base_version: int
    fields: Mapping[str, Any]


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
            ErrorCode.VALIDATION_ERROR,
            "The operation has invalid fields.",
            flatten_errors(exc.detail),
        )
    elif isinstance(exc, ApplicationError):
        code, detail, errors = exc.code, exc.detail, exc.errors
    else:  # pragma: no cover - only the two above are caught
        raise exc
    result: dict[str, Any] = {
        "op_id": op.op_id,
        "status": registry.OpStatus.REJECTED,
        "type": op.type,
        "id": str(op.id),
        "code": code,
        "detail": detail,
    }
    if errors:
        result["errors"] = errors
    if isinstance(exc, ApplicationError) and isinstance(exc.extra.get("version"), int):
        result["version"] = exc.extra["version"]  # the server's version, when the refusal names it
    return result


def _failed(op: PushOp) -> dict[str, Any]:
    return {
        "op_id": op.op_id,
        "status": registry.OpStatus.REJECTED,
        "type": op.type,
        "id": str(op.id),
        "code": ErrorCode.OP_FAILED,
        "detail": "The server could not apply this operation; the failure has been logged.",
    }


def _apply(owner_id: uuid.UUID, op: PushOp) -> dict[str, Any]:
    sync_type = registry.get(op.type)
    if op.action == PushAction.DELETE:
        outcome = sync_type.remove(owner_id=owner_id, obj_id=op.id, base_version=op.base_version)
    else:
        outcome = sync_type.upsert(
            owner_id=owner_id, obj_id=op.id, base_version=op.base_version, fields=op.fields
        )
    # Stored as JSON and returned again on retries: the same text both times.
    return json.loads(json.dumps(_result(op, outcome, sync_type), cls=JSONEncoder))


def _stored_results(owner_id: uuid.UUID, op_ids: Sequence[str], using: str) -> dict[str, dict[str, Any]]:
    found = PushedOp.objects.using(using).filter(owner_id=owner_id, op_id__in=op_ids)
    return dict(found.values_list("op_id", "result"))


_STORE_RESULTS = """
INSERT INTO sync_pushedop (owner_id, op_id, result, created_at)
SELECT %(owner)s, stored.op_id, stored.result::jsonb, %(now)s
FROM unnest(%(op_ids)b::varchar[], %(results)b::text[]) AS stored(op_id, result)
"""


def _store_results(owner_id: uuid.UUID, results: list[dict[str, Any]], using: str) -> None:
    """PushedOp rows for many results at once. On PostgreSQL one INSERT of typed arrays with the
    JSON written by orjson (apps/common/db.py; the ORM's per-row JSON encoding and client-side
    quoting were a third of a bulk push)."""
    if not db.is_postgresql(using):
        PushedOp.objects.using(using).bulk_create(
            [PushedOp(owner_id=owner_id, op_id=result["op_id"], result=result) for result in results]
        )
        return
    with db.bound_cursor(using) as cursor:
        cursor.execute(
            _STORE_RESULTS,
            {
                "owner": owner_id,
                "now": timezone.now(),
                "op_ids": [result["op_id"] for result in results],
                "results": [orjson.dumps(result).decode() for result in results],
            },
        )


def _bulk_candidates(
    ops: Sequence[PushOp], pending: Sequence[tuple[int, PushOp]], stored: Mapping[str, Any]
) -> list[tuple[int, PushOp]]:
    """Upserts whose outcome cannot depend on the rest of the batch, so a batched path may apply
    them before the others: their op_id is new and used once, their object id appears in no
    other op. (Each batched path then checks its own objects under the feed lock.)"""
    op_ids = Counter(op.op_id for op in ops)
    object_ids = Counter(op.id for op in ops)
    return [
        (index, op)
        for index, op in pending
        if op.action == PushAction.UPSERT
        and op.op_id not in stored
        and op_ids[op.op_id] == 1
        and object_ids[op.id] == 1
    ]


def _applied(op: PushOp, version: int, data: Any, status: registry.OpStatus) -> dict[str, Any]:
    return {
        "op_id": op.op_id,
        "status": status,
        "type": op.type,
        "id": str(op.id),
        "version": version,
        "data": data,
    }


def _create_new_in_bulk(
    owner_id: uuid.UUID, candidates: Sequence[tuple[int, PushOp]], using: str
) -> dict[int, dict[str, Any]]:
    """The fast path of a push full of new objects: creates of ids that exist nowhere yet
    (checked under the feed lock), with plainly valid fields, applied together per type in a
    few statements (one INSERT, one feed update, one INSERT of their results) instead of a
    dozen per op. Their results are exactly what the one-by-one path would store (`applied`,
    version 1, the REST representation). Everything else — and everything, should the bulk
    insert fail (a concurrent create of the same id) — goes the one-by-one way. Returns results
    by op index."""
    by_type: dict[str, list[tuple[int, PushOp, dict[str, Any]]]] = {}
    for index, op in candidates:
        cleaned = registry.get(op.type).plain_create_fields(op.fields)
        if cleaned is not None:
            by_type.setdefault(op.type, []).append((index, op, cleaned))
    results: dict[int, dict[str, Any]] = {}
    for type_name, typed in by_type.items():
        sync_type = registry.get(type_name)
        taken = set(
            sync_type.model._default_manager.using(using)
            .filter(id__in=[op.id for _, op, _ in typed])
            .values_list("id", flat=True)
        )
        fresh = [(index, op, cleaned) for index, op, cleaned in typed if op.id not in taken]
        if len(fresh) < 2:
            continue
        try:
            with transaction.atomic(using=using):
                shapes = sync_type.create_new(
                    owner_id=owner_id, items=[(op.id, cleaned) for _, op, cleaned in fresh]
                )
                made = {
                    index: _applied(op, 1, shape, registry.OpStatus.APPLIED)
                    for (index, op, _), shape in zip(fresh, shapes, strict=True)
                }
                _store_results(owner_id, list(made.values()), using)
        except (DatabaseError, ApplicationError):  # a concurrent create, a bad row, the quota: one by one
            logger.info("bulk create of %d %s ops fell back to one by one", len(fresh), type_name)
            continue
        results.update(made)
    return results


def _update_existing_in_bulk(
    owner_id: uuid.UUID, candidates: Sequence[tuple[int, PushOp]], using: str
) -> dict[int, dict[str, Any]]:
    """The fast path of a push full of edits: plainly valid edits of existing objects, per type
    locked in one statement, merged per field and written in a few (registry.upsert_many) —
    the edits whose outcome the one-by-one path would decide alone (no conflict, no refusal).
    The rest, and everything should the batch fail (e.g. the quota), goes one by one. Returns
    results by op index."""
    by_type: dict[str, list[tuple[int, PushOp, dict[str, Any]]]] = {}
    for index, op in candidates:
        sync_type = registry.get(op.type)
        if not isinstance(sync_type, registry.FieldMergedType) or op.base_version < 1:
            continue  # base 0: a create (or a device that never saw the object)
        cleaned = sync_type.plain_update_fields(op.fields)
        if cleaned is not None:
            by_type.setdefault(op.type, []).append((index, op, cleaned))
    results: dict[int, dict[str, Any]] = {}
    for type_name, typed in by_type.items():
        if len(typed) < 2:
            continue
        sync_type = registry.get(type_name)
        assert isinstance(sync_type, registry.FieldMergedType)
        try:
            with transaction.atomic(using=using):
                applied = sync_type.upsert_many(
                    owner_id=owner_id, items=[(op.id, op.base_version, cleaned) for _, op, cleaned in typed]
                )
                made = {
                    index: _applied(op, applied[op.id].version, applied[op.id].data, applied[op.id].status)
                    for index, op, _ in typed
                    if op.id in applied
                }
                if made:
                    _store_results(owner_id, list(made.values()), using)
        except (DatabaseError, ApplicationError):  # the quota, a text that cannot be indexed: one by one
            logger.info("bulk update of %d %s ops fell back to one by one", len(typed), type_name)
            continue
        results.update(made)
    return results


def sync_push(*, owner_id: uuid.UUID, ops: Sequence[PushOp]) -> list[dict[str, Any]]:
    """Apply `ops` in order; one result per op, in the same order."""
    if not ops:
        return []
    results: dict[int, dict[str, Any]] = {}
    using = router.db_for_write(PushedOp)
    with owner_write(owner_id=owner_id):
        stored = _stored_results(owner_id, [op.op_id for op in ops], using)
        pending = list(enumerate(ops))
        candidates = _bulk_candidates(ops, pending, stored)
        results.update(_create_new_in_bulk(owner_id, candidates, using))
        candidates = [(index, op) for index, op in candidates if index not in results]
        results.update(_update_existing_in_bulk(owner_id, candidates, using))
        for index, result in results.items():
            stored[ops[index].op_id] = result
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
            except (OperationalError, InterfaceError):
                raise  # the database is gone or the batch must be retried whole (503)
            except Exception:
                # A bug must not wedge a device: the op is answered (and remembered) as failed,
                # its savepoint rolled back, and the rest of the batch applies.
                logger.exception("push op %s (%s %s) failed", op.op_id, op.action, op.type)
                result = _failed(op)
                PushedOp.objects.using(using).create(owner_id=owner_id, op_id=op.op_id, result=result)
            stored[op.op_id] = result  # the same op_id twice in one batch applies once
            results[index] = result
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
