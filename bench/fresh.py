"""Measure 13 (issue 15): a full pull right after an import vs the same pull at rest.

A device imports 20,000 notes (pushes of 100), and another device of the same account pulls
everything at once (pages of 100, as a client does). Timed three times on the same data:
1. right after the import's last push: the account's reads are pinned to the primary for
   READ_YOUR_WRITES_SECONDS (exampleapp/db_router.py), so the primary answers;
2. once the pin has lapsed: the replica answers, before any vacuum of its own doing;
3. at rest: after VACUUM (ANALYZE) of the note and feed tables on the primary and the replica
   having replayed it.
Beside them, what the difference is made of: how many autovacuum runs of those tables
happened, and EXPLAIN's buffer figures for one page of the hand-written pull query — on the
primary before anything read the new rows (pages dirtied while reading: hint bits being set on
rows no one has read since they were written; heap fetches: rows whose page the visibility map
does not yet show all-visible) and on the replica at rest.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import orjson
import psycopg

from . import seed
from .load import Http
from .measures import _BASELINE_PULL, Context, _check, _note_fields, full_pull

PAGE = 100
_AUTOVACUUMS = (
    "SELECT coalesce(sum(autovacuum_count), 0) FROM pg_stat_user_tables "
    "WHERE relname IN ('notes_note', 'sync_change')"
)


def _urls() -> tuple[str, str]:
    primary = os.environ["DATABASE_URL"]
    return primary, os.environ.get("DATABASE_REPLICA_URLS", primary).split(",")[0]


def _import(ctx: Context, user: seed.BenchUser, count: int) -> float:
    client = Http(ctx.app.base)
    headers = {**user.bearer(), "Content-Type": "application/json"}
    started = time.perf_counter()
    for start in range(0, count, 100):
        ops = [
            {
                "op_id": f"import-{uuid.uuid4().hex}",
                "type": "note",
                "action": "upsert",
                "id": str(uuid.uuid4()),
                "base_version": 0,
                "fields": {**_note_fields(index), "body": "An imported note of about a kibibyte. " * 27},
            }
            for index in range(start, min(count, start + 100))
        ]
        status, data, _ = client.request(
            "POST", "/v1/sync/push", body=orjson.dumps({"ops": ops}), headers=headers
        )
        if status != 200:
            raise RuntimeError(f"push: {status} {data[:300]!r}")
    client.close()
    return count / (time.perf_counter() - started)


def _autovacuums(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(_AUTOVACUUMS).fetchone()
        return int(row[0]) if row else 0


def _explain(url: str, user: seed.BenchUser, after: int) -> dict[str, int]:
    """Buffers and heap fetches of one page of the hand-written pull query."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + _BASELINE_PULL, (user.id, after, PAGE)
        ).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]  # buffer figures of a node include its children's

    def heap_fetches(node: dict[str, Any]) -> int:
        return int(node.get("Heap Fetches", 0)) + sum(heap_fetches(child) for child in node.get("Plans", []))

    return {
        "hit": int(plan.get("Shared Hit Blocks", 0)),
        "read": int(plan.get("Shared Read Blocks", 0)),
        "dirtied": int(plan.get("Shared Dirtied Blocks", 0)),
        "heap_fetches": heap_fetches(plan),
    }


def _pull(ctx: Context, user: seed.BenchUser, expected: int) -> float:
    return full_pull(ctx, user, page=PAGE, expected=expected)


def _rest() -> float:
    """VACUUM (ANALYZE) the pulled tables on the primary, then wait for the replica; seconds."""
    from scripts.services import Postgres

    primary, _ = _urls()
    started = time.perf_counter()
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) notes_note")
        conn.execute("VACUUM (ANALYZE) sync_change")
    Postgres.from_env().wait_replica_caught_up(timeout=600)
    return time.perf_counter() - started


def measure_fresh_pull(ctx: Context) -> dict[str, Any]:
    from django.conf import settings

    from scripts.services import Postgres

    count = 2_000 if ctx.scale.quick else 20_000
    rounds = 1 if ctx.scale.quick else 2
    runs: dict[str, list[float]] = {"fresh": [], "unpinned": [], "rest": []}
    explains: dict[str, list[dict[str, int]]] = {"fresh": [], "rest": []}
    autovacuums: list[int] = []
    primary, replica = _urls()
    for round_ in range(rounds):
        user = seed.make_user(f"import{round_}")
        before = _autovacuums(primary)
        rate = _import(ctx, user, count)
        ctx.log(f"imported {count:,} notes at {rate:,.0f}/s")
        # Where the pull that follows at once reads (the primary: the account's reads are pinned
        # there for READ_YOUR_WRITES_SECONDS), before anything else reads these rows.
        explains["fresh"].append(_explain(primary, user, count // 2))
        runs["fresh"].append(_pull(ctx, user, count))
        time.sleep(settings.READ_YOUR_WRITES_SECONDS + 1)
        runs["unpinned"].append(_pull(ctx, user, count))
        autovacuums.append(_autovacuums(primary) - before)
        seconds = _rest()
        ctx.log(f"vacuumed and replayed in {seconds:.1f}s")
        Postgres.from_env().wait_replica_caught_up(timeout=600)
        runs["rest"].append(_pull(ctx, user, count))
        explains["rest"].append(_explain(replica, user, count // 2))

    def middle(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    ratio = middle(runs["fresh"]) / middle(runs["rest"])
    figures: list[dict[str, Any]] = [
        {
            "label": f"full pull of {count:,} notes, {label}",
            "value": round(middle(runs[phase])),
            "unit": "items/s",
            "runs": [round(rate) for rate in runs[phase]],
        }
        for phase, label in (
            ("fresh", "right after the import (primary: read-your-writes pin)"),
            ("unpinned", f"{settings.READ_YOUR_WRITES_SECONDS + 1:g} s later (replica, not vacuumed)"),
            ("rest", "at rest (after VACUUM, replica replayed)"),
        )
    ]
    figures.append(
        {"label": "autovacuum runs on notes/feed before the rest phase", "value": autovacuums[-1], "unit": ""}
    )
    for phase, where in (("fresh", "primary, before the first pull"), ("rest", "replica, at rest")):
        last = explains[phase][-1]
        figures.append(
            {
                "label": f"one page, {where}: buffers hit / read / dirtied, heap fetches",
                "value": f"{last['hit']} / {last['read']} / {last['dirtied']}, {last['heap_fetches']}",
                "unit": "",
            }
        )
    return {
        "id": 13,
        "title": f"Full pull of {count:,} notes right after their import vs at rest (pages of {PAGE})",
        "figures": figures,
        "ratio": round(ratio, 3),
        "checks": [_check("right after / at rest", round(ratio, 3), ">= 0.8", ratio >= 0.8, aim=True)],
    }
