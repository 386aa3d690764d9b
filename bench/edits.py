"""Measure 12 (issue 15): sync pushes of edits to existing notes and tasks.

Pushes of 100 edits each (HTTP, through gunicorn), against
- a hand-written `UPDATE … FROM unnest(…)` of the same notes (psycopg, one statement per 100):
  the database's floor for the same rows;
- pushes of 100 new notes (measure 6's workload) in the same run: editing should cost no more
  than about twice what creating does.
Every round creates a fresh pool of notes by push (the create figure), then edits that pool
through the API and through the baseline, alternating which goes first; each edit names the
version its device last saw (`base_version` = the current one: the common, conflict-free case).
"""

from __future__ import annotations

import os
import time
import uuid
from statistics import median
from typing import Any

import orjson
import psycopg

from apps.todos.models import Task

from . import seed
from .load import Http
from .measures import Context, _check, _note_fields

BATCH = 100

_BASELINE = """
UPDATE notes_note n
SET body = new.body, version = n.version + 1, updated_at = now(),
    field_versions = n.field_versions || jsonb_build_object('body', n.version + 1)
FROM unnest(%s::uuid[], %s::text[]) AS new(id, body)
WHERE n.id = new.id
"""


class _Pool:
    """Objects of one user a round edits, with the versions the server holds."""

    def __init__(self, kind: str, ids: list[uuid.UUID], version: int = 1) -> None:
        self.kind = kind
        self.versions = dict.fromkeys(ids, version)

    def batches(self) -> list[list[uuid.UUID]]:
        ids = list(self.versions)
        return [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]


def _push(client: Http, user: seed.BenchUser, bodies: list[bytes]) -> tuple[float, list[Any]]:
    headers = {**user.bearer(), "Content-Type": "application/json"}
    started = time.perf_counter()
    last: list[Any] = []
    for body in bodies:
        status, data, _ = client.request("POST", "/v1/sync/push", body=body, headers=headers)
        if status != 200:
            raise RuntimeError(f"push: {status} {data[:300]!r}")
        last = orjson.loads(data)["results"]
        if any(result["status"] != "applied" for result in last):
            raise RuntimeError(f"push not applied: {[r for r in last if r['status'] != 'applied'][:1]}")
    return time.perf_counter() - started, last


def _create(ctx: Context, user: seed.BenchUser, count: int) -> tuple[float, _Pool]:
    ids = [uuid.uuid4() for _ in range(count)]
    bodies = [
        orjson.dumps(
            {
                "ops": [
                    {
                        "op_id": f"bench-{uuid.uuid4().hex}",
                        "type": "note",
                        "action": "upsert",
                        "id": str(note_id),
                        "base_version": 0,
                        "fields": _note_fields(index),
                    }
                    for index, note_id in enumerate(batch)
                ]
            }
        )
        for batch in (ids[start : start + BATCH] for start in range(0, count, BATCH))
    ]
    client = Http(ctx.app.base)
    elapsed, _ = _push(client, user, bodies)
    client.close()
    return count / elapsed, _Pool("note", ids)


def _edit_fields(kind: str, round_: int, index: int) -> dict[str, Any]:
    if kind == "note":
        return {
            "body": f"Edited on a laptop (round {round_}), note {index}. " * 4,
            "tags": ["bench", "edited"],
        }
    return {"title": f"task {index}, edited in round {round_}", "priority": round_ % 4}


def _edit(ctx: Context, user: seed.BenchUser, pool: _Pool, round_: int) -> float:
    bodies = []
    for batch in pool.batches():
        ops = [
            {
                "op_id": f"bench-{uuid.uuid4().hex}",
                "type": pool.kind,
                "action": "upsert",
                "id": str(object_id),
                "base_version": pool.versions[object_id],
                "fields": _edit_fields(pool.kind, round_, index),
            }
            for index, object_id in enumerate(batch)
        ]
        bodies.append(orjson.dumps({"ops": ops}))
    client = Http(ctx.app.base)
    elapsed, _ = _push(client, user, bodies)
    client.close()
    for object_id in pool.versions:
        pool.versions[object_id] += 1
    return len(pool.versions) / elapsed


def _baseline(pool: _Pool, round_: int) -> float:
    batches = [
        (
            [str(note_id) for note_id in batch],
            [_edit_fields("note", round_ + 100, i)["body"] for i in range(len(batch))],
        )
        for batch in pool.batches()
    ]
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        started = time.perf_counter()
        for ids, bodies in batches:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(_BASELINE, (ids, bodies))
        elapsed = time.perf_counter() - started
    for note_id in pool.versions:
        pool.versions[note_id] += 1
    return len(pool.versions) / elapsed


def _rates(label: str, runs: list[float], *, unit: str = "ops/s") -> dict[str, Any]:
    return {"label": label, "value": round(median(runs)), "unit": unit, "runs": runs}


def measure_edits(ctx: Context) -> dict[str, Any]:
    user = ctx.pusher
    count = ctx.scale.push_batches * BATCH
    tasks = seed.make_user("edit-tasks")
    seed.add_tasks(tasks, count)
    task_pool = _Pool(
        "task", list(Task.objects.filter(owner_id=tasks.id).order_by("id").values_list("id", flat=True))
    )
    # Warm-up: imports, caches, connections, and the plans of both paths.
    _, warm = _create(ctx, user, 2 * BATCH)
    _edit(ctx, user, warm, 0)
    _baseline(warm, 0)
    _edit(ctx, tasks, task_pool, 0)
    creates: list[float] = []
    edits: list[float] = []
    baseline: list[float] = []
    task_edits: list[float] = []
    for round_ in range(1, ctx.scale.push_runs + 1):
        rate, pool = _create(ctx, user, count)
        creates.append(rate)
        if round_ % 2:
            edits.append(_edit(ctx, user, pool, round_))
            baseline.append(_baseline(pool, round_))
        else:
            baseline.append(_baseline(pool, round_))
            edits.append(_edit(ctx, user, pool, round_))
        task_edits.append(_edit(ctx, tasks, task_pool, round_))
    vs_baseline = median(edits) / median(baseline)
    vs_creates = median(edits) / median(creates)
    tasks_vs_creates = median(task_edits) / median(creates)
    return {
        "id": 12,
        "title": "Sync push of edits (batches of 100 edits of existing notes and tasks, HTTP) vs "
        "UPDATE … FROM unnest and vs pushes of new notes",
        "figures": [
            _rates("`POST /v1/sync/push`, 100 note edits per push", edits),
            _rates("baseline: UPDATE … FROM unnest, 100 notes per statement", baseline, unit="rows/s"),
            _rates("`POST /v1/sync/push`, 100 new notes per push", creates),
            _rates("`POST /v1/sync/push`, 100 task edits per push", task_edits),
            {"label": "note edits / new notes", "value": round(vs_creates, 3), "unit": "ratio"},
            {"label": "task edits / new notes", "value": round(tasks_vs_creates, 3), "unit": "ratio"},
        ],
        "ratio": round(vs_baseline, 3),
        "checks": [
            _check(
                "note edits vs UPDATE … FROM unnest",
                round(vs_baseline, 3),
                ">= 0.25",
                vs_baseline >= 0.25,
                aim=True,
            ),
            _check("note edits vs new notes", round(vs_creates, 3), ">= 0.5", vs_creates >= 0.5),
            _check("task edits vs new notes", round(tasks_vs_creates, 3), ">= 0.5", tasks_vs_creates >= 0.5),
        ],
    }
