"""The ten measures of issue 7, and measure 11 (issue 12: timing parity). Each returns a result
dict (see report.py for its shape).

Throughput comparisons run A and B alternately (A B, B A, A B, ...) after a warm-up of each,
so drift (page cache, CPU frequency, autovacuum) affects both; figures are medians of the runs.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import orjson
import psycopg
from django.conf import settings
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.common import db
from apps.sync import selectors as sync_selectors
from scripts.services import Gunicorn

from . import files, load, seed
from .load import Http, WrkResult, median, wrk
from .memory import MemorySampler
from .stack import peak_rss, reset_peak, rss

MB = 1_000_000
MIB = 1024 * 1024


@dataclass
class Scale:
    quick: bool
    run_seconds: float
    pairs: int
    connections: int
    pull_sizes: list[int]
    pull_base: int
    pull_seconds: float
    pull_runs: int
    push_batches: int
    push_runs: int
    full_pull_runs: int
    upload_bytes: int
    upload_runs: int
    mixed_seconds: int
    mixed_connections: int
    mixed_users: int

    @classmethod
    def default(cls) -> Scale:
        return cls(
            quick=False,
            run_seconds=5,
            pairs=5,
            connections=8,
            pull_sizes=[10_000, 100_000, 1_000_000],
            pull_base=10_000,
            pull_seconds=4,
            pull_runs=5,
            push_batches=20,
            push_runs=5,
            full_pull_runs=5,
            upload_bytes=1024 * MIB,
            upload_runs=3,
            mixed_seconds=60,
            mixed_connections=64,
            mixed_users=16,
        )

    @classmethod
    def quick_mode(cls) -> Scale:
        return cls(
            quick=True,
            run_seconds=2,
            pairs=3,
            connections=8,
            pull_sizes=[10_000, 30_000, 100_000],
            pull_base=10_000,
            pull_seconds=2,
            pull_runs=3,
            push_batches=5,
            push_runs=3,
            full_pull_runs=3,
            upload_bytes=64 * MIB,
            upload_runs=2,
            mixed_seconds=10,
            mixed_connections=64,
            mixed_users=8,
        )


@dataclass
class Context:
    app: Gunicorn
    scale: Scale
    workdir: Path
    reader: seed.BenchUser
    pullers: dict[int, seed.BenchUser]
    pusher: seed.BenchUser
    uploader: seed.BenchUser
    mixed: list[seed.BenchUser]
    streamed_cpu_per_gb: list[float] = field(default_factory=list)
    log: Callable[[str], None] = print


def _check(name: str, value: Any, target: str, passed: bool, *, aim: bool = False) -> dict[str, Any]:
    return {"name": name, "value": value, "target": target, "pass": bool(passed), "aim": aim}


def _ab(
    ctx: Context, run_a: Callable[[], float], run_b: Callable[[], float], *, pairs: int
) -> tuple[list[float], list[float]]:
    """Alternate A and B runs (A B, B A, ...); returns each side's figures."""
    a: list[float] = []
    b: list[float] = []
    for index in range(pairs):
        if index % 2 == 0:
            a.append(run_a())
            b.append(run_b())
        else:
            b.append(run_b())
            a.append(run_a())
    return a, b


def _rate_runner(ctx: Context, path: str, token: Callable[[], str] | None) -> Callable[[], float]:
    def run() -> float:
        headers = [f"Authorization: Bearer {token()}"] if token else []
        result = wrk(
            ctx.app.base + path,
            seconds=ctx.scale.run_seconds,
            connections=ctx.scale.connections,
            headers=headers,
        )
        if result.errors:
            raise RuntimeError(f"{path}: {result.errors} errors in a throughput run")
        return result.rate

    return run


def _warm(ctx: Context, path: str, token: Callable[[], str] | None) -> None:
    headers = [f"Authorization: Bearer {token()}"] if token else []
    wrk(ctx.app.base + path, seconds=1, connections=ctx.scale.connections, headers=headers)


def _get_json(ctx: Context, path: str, user: seed.BenchUser) -> Any:
    client = Http(ctx.app.base)
    status, body, _ = client.request("GET", path, headers=user.bearer())
    client.close()
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


def _throughput(
    ctx: Context, *, number: int, title: str, real: str, baseline: str, target: float, same: bool
) -> dict[str, Any]:
    token = ctx.reader.token
    _warm(ctx, real, token)
    _warm(ctx, baseline, token)
    a, b = _ab(ctx, _rate_runner(ctx, real, token), _rate_runner(ctx, baseline, token), pairs=ctx.scale.pairs)
    ratio = median(a) / median(b)
    return {
        "id": number,
        "title": title,
        "figures": [
            {"label": f"`{real}`", "value": round(median(a)), "unit": "req/s", "runs": [round(x) for x in a]},
            {
                "label": f"baseline `{baseline}`",
                "value": round(median(b)),
                "unit": "req/s",
                "runs": [round(x) for x in b],
            },
        ],
        "ratio": round(ratio, 3),
        "checks": [
            _check("ratio", round(ratio, 3), f">= {target}", ratio >= target),
            _check("same JSON as the baseline", same, "true", same),
        ],
    }


# --- 1, 2, 3: request rates ----------------------------------------------------------------------


def measure_list(ctx: Context) -> dict[str, Any]:
    real = _get_json(ctx, "/v1/todos?limit=50", ctx.reader)
    base = _get_json(ctx, "/bench/todos?limit=50", ctx.reader)
    return _throughput(
        ctx,
        number=1,
        title="`GET /v1/todos?limit=50` requests/s (JWT) vs hand-written `.values()` + orjson view",
        real="/v1/todos?limit=50",
        baseline="/bench/todos?limit=50",
        target=0.75,
        same=real["results"] == base["results"],
    )


def measure_detail(ctx: Context) -> dict[str, Any]:
    assert ctx.reader.note_ids
    note = ctx.reader.note_ids[0]
    real = _get_json(ctx, f"/v1/notes/{note}", ctx.reader)
    base = _get_json(ctx, f"/bench/notes/{note}", ctx.reader)
    return _throughput(
        ctx,
        number=2,
        title="`GET /v1/notes/{id}` requests/s (JWT) vs hand-written `.values().get()` + orjson view",
        real=f"/v1/notes/{note}",
        baseline=f"/bench/notes/{note}",
        target=0.85,
        same=real == base,
    )


def measure_auth(ctx: Context) -> dict[str, Any]:
    token = ctx.reader.token
    _warm(ctx, "/bench/ping", token)
    _warm(ctx, "/bench/ping-anonymous", None)
    a, b = _ab(
        ctx,
        _rate_runner(ctx, "/bench/ping", token),
        _rate_runner(ctx, "/bench/ping-anonymous", None),
        pairs=ctx.scale.pairs,
    )
    ratio = median(a) / median(b)
    return {
        "id": 3,
        "title": "Cost of authentication: trivial DRF endpoint with JWT auth ÷ the same without auth",
        "figures": [
            {"label": "with a valid access token", "value": round(median(a)), "unit": "req/s", "runs": a},
            {"label": "without authentication", "value": round(median(b)), "unit": "req/s", "runs": b},
        ],
        "ratio": round(ratio, 3),
        # Aim raised from 0.8 by issue 15 (session state in each process, docs/identity.md).
        "checks": [_check("ratio", round(ratio, 3), ">= 0.85 (aim)", ratio >= 0.85, aim=True)],
    }


# --- 4: SQL queries per request --------------------------------------------------------------------


def _count_queries(client: Client, path: str, token: str) -> int:
    aliases = list(settings.DATABASES)
    contexts = [CaptureQueriesContext(connections[alias]) for alias in aliases]
    for capture in contexts:
        capture.__enter__()
    try:
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    finally:
        for capture in contexts:
            capture.__exit__(None, None, None)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    return sum(len(capture.captured_queries) for capture in contexts)


def measure_queries(ctx: Context) -> dict[str, Any]:
    """Counted in this process through Django's test client with the bench settings (the same
    middleware, router and cache as the server); the session state is cached first, as it is
    for any client that made a request in the last minute."""
    client = Client()
    token = ctx.reader.token()
    assert ctx.reader.note_ids
    assert ctx.reader.task_ids
    paths = {
        "todos list": "/v1/todos?limit={limit}",
        "notes list": "/v1/notes?limit={limit}",
        "task detail": f"/v1/todos/{ctx.reader.task_ids[0]}",
        "note detail": f"/v1/notes/{ctx.reader.note_ids[0]}",
    }
    counts: dict[str, dict[str, int]] = {}
    for name, template in paths.items():
        client.get(template.format(limit=10), HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
        counts[name] = {
            f"limit {limit}": _count_queries(client, template.format(limit=limit), token)
            for limit in (10, 100)
        }
    worst = max(max(by_limit.values()) for by_limit in counts.values())
    flat = all(len(set(by_limit.values())) == 1 for by_limit in counts.values())
    return {
        "id": 4,
        "title": "SQL queries per list and detail request (limit 10 and 100)",
        "figures": [
            {"label": f"{name}, {which}" if "list" in name else name, "value": count, "unit": "queries"}
            for name, by_limit in counts.items()
            for which, count in by_limit.items()
            if "list" in name or which == "limit 10"
        ],
        "ratio": None,
        "checks": [
            _check("most queries in one request", worst, "<= 2", worst <= 2),
            _check("same count for limit 10 and 100", flat, "true", flat),
        ],
    }


# --- 5: pull latency against account size -------------------------------------------------------


def _pull_path(user: seed.BenchUser) -> str:
    return f"/v1/sync/changes?limit=100&cursor={user.last_seq - 100}"


def _plan_uses_index(user: seed.BenchUser) -> tuple[bool, str]:
    """EXPLAIN of the app's own feed query (apps/sync/selectors.FEED_PAGE_SQL), as a pull of the
    newest 100 sends it, on the replica the pulls read."""
    alias = settings.REPLICA_DATABASES[0] if settings.REPLICA_DATABASES else "default"
    with db.bound_cursor(alias) as cursor:
        cursor.execute(
            "EXPLAIN " + sync_selectors.FEED_PAGE_SQL.format(types=""),
            {"owner": user.id, "after": user.last_seq - 100, "limit": 101, "types": []},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return "change_owner_seq" in plan, plan


def measure_pull_latency(ctx: Context) -> dict[str, Any]:
    sizes = sorted(ctx.pullers)
    for size in sizes:
        user = ctx.pullers[size]
        wrk(ctx.app.base + _pull_path(user), seconds=1, connections=1, headers=[_auth(user)])
    per_size: dict[int, list[WrkResult]] = {size: [] for size in sizes}
    for run in range(ctx.scale.pull_runs):
        order = sizes if run % 2 == 0 else list(reversed(sizes))
        for size in order:
            user = ctx.pullers[size]
            result = wrk(
                ctx.app.base + _pull_path(user),
                seconds=ctx.scale.pull_seconds,
                connections=1,
                headers=[_auth(user)],
            )
            if result.errors:
                raise RuntimeError(f"pull at {size}: {result.errors} errors")
            per_size[size].append(result)
    table = {
        size: {
            "p50_ms": round(median(r.p50_ms for r in runs), 3),
            "p99_ms": round(median(r.p99_ms for r in runs), 3),
            "rate": round(median(r.rate for r in runs), 1),
        }
        for size, runs in per_size.items()
    }
    base, top = ctx.scale.pull_base, sizes[-1]
    p50_ratio = table[top]["p50_ms"] / table[base]["p50_ms"]
    p99_ratio = table[top]["p99_ms"] / table[base]["p99_ms"]
    uses_index, plan = _plan_uses_index(ctx.pullers[top])
    return {
        "id": 5,
        "title": f"Sync pull of the newest 100 changes: latency at {top:,} objects ÷ at {base:,}",
        "figures": [
            {"label": f"{size:,} objects p50 / p99", "value": f"{v['p50_ms']} / {v['p99_ms']}", "unit": "ms"}
            for size, v in table.items()
        ],
        "series": {str(size): v for size, v in table.items()},
        "ratio": {"p50": round(p50_ratio, 3), "p99": round(p99_ratio, 3)},
        "plan": plan,
        "checks": [
            _check("p50 ratio", round(p50_ratio, 3), "<= 1.10", p50_ratio <= 1.10),
            _check("p99 ratio", round(p99_ratio, 3), "<= 1.3", p99_ratio <= 1.3),
            _check("plan uses the (owner, seq) index", uses_index, "true", uses_index),
        ],
    }


def _auth(user: seed.BenchUser) -> str:
    return f"Authorization: Bearer {user.token()}"


# --- 6: push --------------------------------------------------------------------------------------


def _note_fields(index: int) -> dict[str, Any]:
    return {
        "title": f"pushed note {index}",
        "body": "Written offline on a phone, pushed in a batch. " * 4,
        "tags": ["bench", "sync"],
        "pinned": False,
        "archived": False,
    }


def measure_push(ctx: Context) -> dict[str, Any]:
    user = ctx.pusher
    batches = ctx.scale.push_batches
    counter = iter(range(10**9))

    def http_run() -> float:
        client = Http(ctx.app.base)
        headers = {**user.bearer(), "Content-Type": "application/json"}
        bodies = []
        for _ in range(batches):
            ops = []
            for _ in range(100):
                index = next(counter)
                ops.append(
                    {
                        "op_id": f"bench-{uuid.uuid4().hex}",
                        "type": "note",
                        "action": "upsert",
                        "id": str(uuid.uuid4()),
                        "base_version": 0,
                        "fields": _note_fields(index),
                    }
                )
            bodies.append(orjson.dumps({"ops": ops}))
        started = time.perf_counter()
        for body in bodies:
            status, data, _ = client.request("POST", "/v1/sync/push", body=body, headers=headers)
            if status != 200:
                raise RuntimeError(f"push: {status} {data[:300]!r}")
        elapsed = time.perf_counter() - started
        client.close()
        results = orjson.loads(data)["results"]
        if any(r["status"] != "applied" for r in results):
            raise RuntimeError(f"push not applied: {results[0]}")
        return batches * 100 / elapsed

    def baseline_run() -> float:
        rows = []
        for _ in range(batches):
            batch = []
            for _ in range(100):
                index = next(counter)
                fields = _note_fields(index)
                batch.append(
                    (
                        uuid.uuid4(),
                        user.id,
                        fields["title"],
                        fields["body"],
                        orjson.dumps(fields["tags"]).decode(),
                        fields["pinned"],
                        fields["archived"],
                        seed.NOTE_FV,
                    )
                )
            rows.append(batch)
        sql = (
            "INSERT INTO notes_note (id, version, created_at, updated_at, owner_id, title, body, tags, "
            "pinned, archived, deleted_at, field_versions) "
            "VALUES (%s, 1, now(), now(), %s, %s, %s, %s::jsonb, %s, %s, NULL, %s::jsonb)"
        )
        with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
            started = time.perf_counter()
            for batch in rows:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(sql, batch)
            elapsed = time.perf_counter() - started
        return batches * 100 / elapsed

    http_run()  # warm-up (imports, caches, connections)
    baseline_run()
    a, b = _ab(ctx, http_run, baseline_run, pairs=ctx.scale.push_runs)
    ratio = median(a) / median(b)
    return {
        "id": 6,
        "title": "Sync push ops/s (batches of 100 upserts of new notes, HTTP) vs psycopg executemany",
        "figures": [
            {"label": "`POST /v1/sync/push`", "value": round(median(a)), "unit": "ops/s", "runs": a},
            {
                "label": "baseline: executemany INSERT, one transaction per 100",
                "value": round(median(b)),
                "unit": "rows/s",
                "runs": b,
            },
        ],
        "ratio": round(ratio, 3),
        "checks": [_check("ratio", round(ratio, 3), ">= 0.25", ratio >= 0.25)],
    }


# --- 7: full pull -----------------------------------------------------------------------------------


_BASELINE_PULL = """
SELECT c.seq, c.type, c.object_id, c.version, c.deleted,
       n.id, n.title, n.body, n.tags, n.pinned, n.archived, n.version, n.created_at, n.updated_at
FROM sync_change c
LEFT JOIN notes_note n ON c.type = 'note' AND n.id = c.object_id AND n.deleted_at IS NULL
WHERE c.owner_id = %s AND c.seq > %s
ORDER BY c.seq
LIMIT %s
"""


def full_pull(ctx: Context, user: seed.BenchUser, *, page: int, expected: int) -> float:
    """Pull the user's whole feed through the API, pages of `page`; items/s."""
    client = Http(ctx.app.base)
    headers = user.bearer()
    cursor = ""
    items = 0
    started = time.perf_counter()
    while True:
        status, data, _ = client.request(
            "GET", f"/v1/sync/changes?limit={page}&cursor={cursor}", headers=headers
        )
        if status != 200:
            raise RuntimeError(f"pull: {status} {data[:300]!r}")
        # The answer ends with "cursor":"…","has_more":…}: read just that, like a streaming client.
        tail = orjson.loads(b"{" + data[data.rindex(b',"cursor":') + 1 :])
        items += data.count(b'"seq":')
        cursor = tail["cursor"]
        if not tail["has_more"]:
            break
    elapsed = time.perf_counter() - started
    client.close()
    if items != expected:
        raise RuntimeError(f"full pull returned {items} items, expected {expected}")
    return items / elapsed


def measure_full_pull(ctx: Context) -> dict[str, Any]:
    user = ctx.pullers[ctx.scale.pull_base]
    page = 500

    def http_run() -> float:
        return full_pull(ctx, user, page=page, expected=user.last_seq)

    replica = os.environ.get("DATABASE_REPLICA_URLS", os.environ["DATABASE_URL"]).split(",")[0]

    def baseline_run() -> float:
        items = 0
        with psycopg.connect(replica, autocommit=True) as conn:
            started = time.perf_counter()
            after = 0
            while True:
                rows = conn.execute(_BASELINE_PULL, (user.id, after, page + 1)).fetchall()
                has_more = len(rows) > page
                rows = rows[:page]
                changes = []
                for (
                    seq,
                    kind,
                    object_id,
                    version,
                    deleted,
                    nid,
                    title,
                    body,
                    tags,
                    pinned,
                    archived,
                    nver,
                    ca,
                    ua,
                ) in rows:
                    if nid is None or deleted:
                        changes.append(
                            {
                                "seq": seq,
                                "type": kind,
                                "op": "delete",
                                "id": object_id,
                                "version": version,
                                "data": None,
                            }
                        )
                    else:
                        data = {
                            "id": nid,
                            "title": title,
                            "body": body,
                            "tags": tags,
                            "pinned": pinned,
                            "archived": archived,
                            "version": nver,
                            "created_at": ca,
                            "updated_at": ua,
                        }
                        changes.append(
                            {
                                "seq": seq,
                                "type": kind,
                                "op": "upsert",
                                "id": object_id,
                                "version": nver,
                                "data": data,
                            }
                        )
                after = rows[-1][0] if rows else after
                orjson.dumps(
                    {"changes": changes, "cursor": str(after), "has_more": has_more}, option=orjson.OPT_UTC_Z
                )
                items += len(changes)
                if not has_more:
                    break
            elapsed = time.perf_counter() - started
        return items / elapsed

    http_run()
    baseline_run()
    a, b = _ab(ctx, http_run, baseline_run, pairs=ctx.scale.full_pull_runs)
    ratio = median(a) / median(b)
    return {
        "id": 7,
        "title": f"Sync full pull items/s (pages of 500, {user.last_seq:,} notes) vs psycopg + orjson",
        "figures": [
            {
                "label": "`GET /v1/sync/changes?limit=500` to the end",
                "value": round(median(a)),
                "unit": "items/s",
                "runs": a,
            },
            {
                "label": "baseline: keyset JOIN with psycopg, orjson",
                "value": round(median(b)),
                "unit": "items/s",
                "runs": b,
            },
        ],
        "ratio": round(ratio, 3),
        "checks": [_check("ratio", round(ratio, 3), ">= 0.5", ratio >= 0.5)],
    }


# --- 8, 9: uploads --------------------------------------------------------------------------------


@dataclass
class Payload:
    path: Path
    size: int
    sha256: str


def _payload(ctx: Context) -> Payload:
    path = ctx.workdir / "upload.pdf"
    sha = files.write_pdf(path, ctx.scale.upload_bytes)
    return Payload(path, ctx.scale.upload_bytes, sha)


def _delete_file(ctx: Context, user: seed.BenchUser, file_id: str) -> None:
    client = Http(ctx.app.base)
    status, data, _ = client.request("DELETE", f"/v1/files/{file_id}", headers=user.bearer())
    client.close()
    if status != 204:
        raise RuntimeError(f"delete: {status} {data[:200]!r}")


def _streamed_upload(ctx: Context, payload: Payload) -> dict[str, float]:
    user = ctx.uploader
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    workers = ctx.app.worker_pids()
    before_rss = {pid: rss(pid) for pid in workers}
    for pid in workers:
        reset_peak(pid)
    cpu_before = ctx.app.cpu()
    conn = http.client.HTTPConnection("127.0.0.1", ctx.app.port, timeout=600)
    started = time.perf_counter()
    conn.putrequest("POST", "/v1/files")
    conn.putheader("Authorization", f"Bearer {user.token()}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + payload.size + len(tail)))
    conn.endheaders()
    conn.send(head)
    with payload.path.open("rb") as source:
        while chunk := source.read(MIB):
            conn.send(chunk)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    cpu = ctx.app.cpu() - cpu_before
    growth = max(peak_rss(pid) - before_rss[pid] for pid in workers)
    if response.status != 201:
        raise RuntimeError(f"streamed upload: {response.status} {body[:300]!r}")
    created = json.loads(body)
    if created["sha256"] != payload.sha256:
        raise RuntimeError("streamed upload: wrong sha256")
    _delete_file(ctx, user, created["id"])
    return {"seconds": elapsed, "cpu": cpu, "rss_growth": growth}


def _boto3_upload(payload: Payload) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
    )
    key = f"bench/{uuid.uuid4().hex}"
    started = time.perf_counter()
    client.upload_file(str(payload.path), os.environ["S3_BUCKET"], key)
    elapsed = time.perf_counter() - started
    client.delete_object(Bucket=os.environ["S3_BUCKET"], Key=key)
    return elapsed


def measure_streamed_upload(ctx: Context, payload: Payload) -> dict[str, Any]:
    app_runs: list[dict[str, float]] = []
    boto_runs: list[float] = []
    for index in range(ctx.scale.upload_runs):
        if index % 2 == 0:
            app_runs.append(_streamed_upload(ctx, payload))
            boto_runs.append(_boto3_upload(payload))
        else:
            boto_runs.append(_boto3_upload(payload))
            app_runs.append(_streamed_upload(ctx, payload))
    app_mbps = [payload.size / MB / run["seconds"] for run in app_runs]
    boto_mbps = [payload.size / MB / seconds for seconds in boto_runs]
    ratio = median(app_mbps) / median(boto_mbps)
    growth = max(run["rss_growth"] for run in app_runs)
    ctx.streamed_cpu_per_gb = [run["cpu"] / (payload.size / 1e9) for run in app_runs]
    size_label = f"{payload.size / MIB:,.0f} MiB"
    return {
        "id": 8,
        "title": f"Streamed upload (`POST /v1/files`) of a {size_label} PDF vs boto3 `upload_file`",
        "figures": [
            {
                "label": "`POST /v1/files` (multipart, streamed)",
                "value": round(median(app_mbps), 1),
                "unit": "MB/s",
                "runs": app_mbps,
            },
            {
                "label": "baseline: boto3 `upload_file`",
                "value": round(median(boto_mbps), 1),
                "unit": "MB/s",
                "runs": boto_mbps,
            },
            {"label": "worker peak RSS growth (worst run)", "value": round(growth / MIB, 1), "unit": "MiB"},
            {
                "label": "app CPU per GB (streamed)",
                "value": round(median(ctx.streamed_cpu_per_gb), 2),
                "unit": "CPU-s/GB",
            },
        ],
        "ratio": round(ratio, 3),
        "checks": [
            _check("MB/s ratio", round(ratio, 3), ">= 0.5", ratio >= 0.5),
            _check("peak RSS growth", f"{growth / MIB:.1f} MiB", "<= 64 MiB", growth <= 64 * MIB),
        ],
    }


def _put_part(url: str, path: Path, offset: int, size: int) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=600)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}", skip_accept_encoding=True)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    with path.open("rb") as source:
        source.seek(offset)
        left = size
        while left > 0:
            chunk = source.read(min(MIB, left))
            conn.send(chunk)
            left -= len(chunk)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"part PUT: {response.status}")


def _direct_upload(ctx: Context, payload: Payload) -> dict[str, float]:
    user = ctx.uploader
    client = Http(ctx.app.base)
    headers = {**user.bearer(), "Content-Type": "application/json"}
    cpu_before = ctx.app.cpu()
    started = time.perf_counter()
    status, data, _ = client.request(
        "POST",
        "/v1/files/uploads",
        body=orjson.dumps(
            {
                "name": "big.pdf",
                "size": payload.size,
                "sha256": payload.sha256,
                "content_type": "application/pdf",
            }
        ),
        headers=headers,
    )
    if status != 201:
        raise RuntimeError(f"initiate: {status} {data[:300]!r}")
    upload = orjson.loads(data)["upload"]
    offset = 0
    for part in upload["part_urls"]:
        _put_part(part["url"], payload.path, offset, part["size"])
        offset += part["size"]
    status, data, _ = client.request("POST", f"/v1/files/uploads/{upload['id']}/complete", headers=headers)
    elapsed = time.perf_counter() - started
    cpu = ctx.app.cpu() - cpu_before
    client.close()
    if status != 201:
        raise RuntimeError(f"complete: {status} {data[:300]!r}")
    _delete_file(ctx, user, orjson.loads(data)["id"])
    return {"seconds": elapsed, "cpu": cpu}


def measure_direct_upload(ctx: Context, payload: Payload) -> dict[str, Any]:
    runs = [_direct_upload(ctx, payload) for _ in range(ctx.scale.upload_runs)]
    per_gb = [run["cpu"] / (payload.size / 1e9) for run in runs]
    streamed = median(ctx.streamed_cpu_per_gb)
    ratio = median(per_gb) / streamed if streamed else float("inf")
    return {
        "id": 9,
        "title": "Direct multipart upload of the same file: app CPU-seconds per GB vs the streamed path",
        "figures": [
            {
                "label": "direct (`/v1/files/uploads`, parts PUT to S3)",
                "value": round(median(per_gb), 3),
                "unit": "CPU-s/GB",
                "runs": per_gb,
            },
            {
                "label": "streamed (`POST /v1/files`, measure 8)",
                "value": round(streamed, 3),
                "unit": "CPU-s/GB",
            },
            {
                "label": "direct upload wall time",
                "value": round(median(r["seconds"] for r in runs), 2),
                "unit": "s",
            },
        ],
        "ratio": round(ratio, 3),
        "checks": [_check("CPU ratio", round(ratio, 3), "<= 0.1", ratio <= 0.1)],
    }


# --- 10: mixed load -----------------------------------------------------------------------------


def measure_mixed(ctx: Context) -> dict[str, Any]:
    users_file = ctx.workdir / "mixed-users.txt"
    lines = []
    for user in ctx.mixed:
        assert user.task_ids
        assert user.note_ids
        lines.append(f"{user.token()} {user.task_ids[0]} {user.note_ids[0]} {max(0, user.last_seq - 50)}")
    users_file.write_text("\n".join(lines) + "\n")
    # Every process of the stack, RSS and PSS (bench/memory.py), once a second during the load.
    # This process's own connections (seeding wrote through them) are closed first, so their
    # backends are not counted as the app's; a later measure opens them again.
    connections.close_all()
    with MemorySampler(ctx.app.pid) as memory_sampler:
        result = wrk(
            ctx.app.base + "/",
            seconds=ctx.scale.mixed_seconds,
            connections=ctx.scale.mixed_connections,
            threads=2,
            script=(Path(load.__file__).parent / "wrk" / "mixed.lua").read_text(),
            env={"BENCH_USERS": str(users_file)},
            timeout_s=30,
        )
    app_peak = memory_sampler.total(lambda kind: kind.startswith("gunicorn"))
    return {
        "id": 10,
        "title": (
            f"Mixed load {ctx.scale.mixed_seconds} s, {ctx.scale.mixed_connections} connections "
            "(70 % reads, 20 % writes, 10 % sync)"
        ),
        "figures": [
            {"label": "requests/s", "value": round(result.rate), "unit": "req/s"},
            {"label": "latency p50", "value": result.p50_ms, "unit": "ms"},
            {"label": "latency p99", "value": result.p99_ms, "unit": "ms"},
            {"label": "errors (socket, timeouts, non-2xx)", "value": result.errors, "unit": ""},
            {
                "label": "peak RSS, all app processes together",
                "value": round(app_peak["rss"] / MIB, 1),
                "unit": "MiB",
            },
            *memory_sampler.figures(),
        ],
        "raw": result.as_dict(),
        "memory": memory_sampler.as_dict(),
        "ratio": None,
        "checks": [_check("errors", result.errors, "0", result.errors == 0)],
    }


# --- 11: no timing oracle (issue 12) ----------------------------------------------------------------


def _timed(client: Http, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> float:
    started = time.perf_counter()
    status, data, _ = client.request(method, path, body=orjson.dumps(body) if body else None, headers=headers)
    elapsed = time.perf_counter() - started
    if status not in (201, 401):
        raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
    return elapsed * 1000


def measure_timing_parity(ctx: Context) -> dict[str, Any]:
    """Answers that must not tell whether an address has an account must not take longer for
    one kind of address than for the other (production hashers: Argon2). Alternating requests,
    client-side latency over HTTP, medians."""
    from django.contrib.auth.hashers import make_password

    from apps.identity.models import User
    from apps.identity.services import kosync_user_key

    rounds = 10 if ctx.scale.quick else 30
    client = Http(ctx.app.base)
    json_headers = {"Content-Type": "application/json"}
    password = "a long enough passphrase 42"  # noqa: S105 - a throwaway account's
    taken = [seed.make_user(f"taken{index}").email for index in range(rounds)]

    def register_taken(index: int) -> float:
        return _timed(
            client, "POST", "/v1/auth/register", {"email": taken[index], "password": password}, json_headers
        )

    def register_new(index: int) -> float:
        email = f"bench-new-{uuid.uuid4().hex[:12]}@example.org"
        return _timed(
            client, "POST", "/v1/auth/register", {"email": email, "password": password}, json_headers
        )

    # KOReader: an account with a key and a wrong key sent, against an unknown address. One
    # attempt per account: the lockout would otherwise answer without checking anything.
    keyed = [seed.make_user(f"kosync{index}") for index in range(rounds)]
    stored = make_password(kosync_user_key("the right kosync password"))
    User.objects.using("default").filter(id__in=[user.id for user in keyed]).update(kosync_key_hash=stored)
    kosync = {"Accept": "application/vnd.koreader.v1+json", "x-auth-key": kosync_user_key("a wrong one")}

    def kosync_known(index: int) -> float:
        return _timed(
            client, "GET", "/v1/sync/kosync/users/auth", {}, {**kosync, "x-auth-user": keyed[index].email}
        )

    def kosync_unknown(index: int) -> float:
        email = f"nobody-{uuid.uuid4().hex[:12]}@example.org"
        return _timed(client, "GET", "/v1/sync/kosync/users/auth", {}, {**kosync, "x-auth-user": email})

    register_new(0)  # warm-up (first Argon2 call, connection)
    figures: list[dict[str, Any]] = []
    checks = []
    ratios = {}
    for label, run_a, run_b in (
        ("registration: taken ÷ new address", register_taken, register_new),
        ("KOReader auth: unknown address ÷ account with a key", kosync_unknown, kosync_known),
    ):
        a: list[float] = []
        b: list[float] = []
        for index in range(rounds):
            first, second = (run_a, run_b) if index % 2 == 0 else (run_b, run_a)
            x, y = first(index), second(index)
            a_ms, b_ms = (x, y) if first is run_a else (y, x)
            a.append(a_ms)
            b.append(b_ms)
        ratio = median(a) / median(b)
        ratios[label] = ratio
        figures += [
            {
                "label": f"{label.split(':')[0]} — {label.split(': ')[1].split(' ÷ ')[0]}",
                "value": round(median(a), 1),
                "unit": "ms p50",
                "runs": [round(v, 1) for v in a],
            },
            {
                "label": f"{label.split(':')[0]} — {label.split(' ÷ ')[1]}",
                "value": round(median(b), 1),
                "unit": "ms p50",
                "runs": [round(v, 1) for v in b],
            },
        ]
        checks.append(_check(label, round(ratio, 3), "0.85 to 1.15", 0.85 <= ratio <= 1.15))
    client.close()
    return {
        "id": 11,
        "title": "No timing oracle: taken vs new address (registration), known vs unknown (KOReader)",
        "figures": figures,
        "ratio": round(ratios["registration: taken ÷ new address"], 3),
        "checks": checks,
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def make_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="exampleapp-bench-"))
