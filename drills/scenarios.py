"""The fault drills (issue 8, 16, 18). Each takes the running stack and a size, injects its
fault under load and returns its figures, each with its target and whether it was met.

The same functions run in `make drills` (full or QUICK size) and in tests/drills (the smallest
size), so the pytest versions are these very drills with less load.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.services import pdf_bytes

from . import client
from .client import Reply, User, percentile
from .events import events_redis, events_sigterm
from .failover import PatroniCluster, PgCtlFailover, patroni_available
from .load import Load, Mixed, Sample
from .pitr import pitr
from .results import DrillResult, Figure, Size
from .stack import App, DrillStack, app_env, manage, migrate

FAILED_KINDS = ("server_error", "cut", "refused")


def _users(stack: DrillStack, count: int, label: str, app: App | None = None) -> list[User]:
    port = (app or stack.app).port  # type: ignore[union-attr]
    return [User.create(port, label) for _ in range(count)]


def _failures(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.reply.kind in FAILED_KINDS]


def _describe(samples: list[Sample]) -> str:
    counts: dict[str, int] = {}
    for s in samples:
        key = f"{s.label}: {s.reply.status or s.reply.kind}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "none"


# --- 1. replica killed during reads ---------------------------------------------------------
def replica_killed(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("replica_killed", "replica killed during reads")
    people = [Mixed(u, writer=i % 2 == 1) for i, u in enumerate(_users(stack, size.threads * 2, "replica"))]
    wait_replica_in_service(stack)
    load = Load([p.step for p in people]).start()
    time.sleep(size.phase)
    replica_connections = _replica_connections(stack)
    stack.pg.stop_replica()
    killed_at = time.monotonic()
    time.sleep(size.phase)
    samples = load.stop()
    stack.pg.start_replica()
    stack.pg.wait_replica_caught_up(60)
    failed = _failures(samples)
    result.zero("failed requests", len(failed))
    after = [s for s in samples if s.started >= killed_at]
    result.notes += [
        f"{len(samples)} requests ({len(after)} after the kill, immediate shutdown); the app held "
        f"{replica_connections} connections to the replica when it died",
        f"failures: {_describe(failed)}",
        *load.errors[:3],
    ]
    return result


def _replica_connections(stack: DrillStack) -> int:
    out = stack.pg.psql(
        stack.pg.replica_port,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND usename = 'app'",
    )
    return int(out or 0)


def wait_replica_in_service(stack: DrillStack, timeout: float = 60.0) -> float:
    """Wait until the app reads from the replica again (a replica that failed is benched for
    REPLICA_COOLDOWN_SECONDS): a probe user writes with replay paused, drops its pin and reads
    until the answer is the replica's stale one. Returns the seconds waited."""
    assert stack.app is not None
    probe = User.create(stack.app.port, "probe")
    list_id = probe.call("POST", "/v1/todos/lists", {"name": "probe"}).json()["id"]
    task_id = probe.call("POST", "/v1/todos", {"list": list_id, "title": "before"}).json()["id"]
    stack.pg.wait_replica_caught_up(30)
    stack.pg.pause_replay()
    started = time.monotonic()
    try:
        probe.call("PATCH", f"/v1/todos/{task_id}", {"title": "after"})
        while time.monotonic() - started < timeout:
            _drop_pins(stack)
            if probe.call("GET", f"/v1/todos/{task_id}").json().get("title") == "before":
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError(f"the app did not read from the replica within {timeout}s")
    finally:
        stack.pg.resume_replay()
        stack.pg.wait_replica_caught_up(30)


# --- 2. replica lag: write -> read cycles with replay paused ---------------------------------
def replica_lag(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("replica_lag", "replica lag (WAL replay paused) during write→read cycles")
    users = _users(stack, size.threads, "lag")
    tasks = []
    for user in users:
        lst = user.call("POST", "/v1/todos/lists", {"name": "lag"}).json()["id"]
        tasks.append(user.call("POST", "/v1/todos", {"list": lst, "title": "start"}).json()["id"])
    wait_replica_in_service(stack)
    _drop_pins(stack)
    stack.pg.pause_replay()
    stale: list[str] = []
    errors: list[str] = []
    per_user = max(1, size.lag_cycles // len(users))

    def cycles(user: User, task_id: str) -> None:
        cursor = ""
        for number in range(per_user):
            title = f"cycle {number} {uuid.uuid4().hex[:8]}"
            wrote = user.call("PATCH", f"/v1/todos/{task_id}", {"title": title})
            if wrote.status != 200:
                errors.append(f"write {wrote.status or wrote.kind}")
                continue
            version = wrote.json()["version"]
            read = user.call("GET", f"/v1/todos/{task_id}")
            if read.status != 200 or read.json()["title"] != title or read.json()["version"] < version:
                stale.append(f"detail {read.status} {read.body[:80]!r}")
            feed = user.call("GET", f"/v1/sync/changes?cursor={cursor}&limit=1000")
            if feed.status != 200:
                stale.append(f"feed {feed.status}")
                continue
            body = feed.json()
            if not any(c["id"] == task_id and c["version"] >= version for c in body["changes"]):
                stale.append(f"feed missed version {version}")
            cursor = body["cursor"]

    threads = [threading.Thread(target=cycles, args=(u, t)) for u, t in zip(users, tasks, strict=True)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    behind = (
        stack.pg.psql(stack.pg.primary_port, "SELECT pg_current_wal_lsn()"),
        stack.pg.psql(stack.pg.replica_port, "SELECT pg_last_wal_replay_lsn()"),
    )
    lag_bytes = int(
        stack.pg.psql(stack.pg.primary_port, f"SELECT pg_wal_lsn_diff('{behind[0]}', '{behind[1]}')") or 0
    )
    # Control: without the pins the same reads go to the paused replica and are stale.
    _drop_pins(stack)
    control = sum(
        1
        for user, task_id in zip(users, tasks, strict=True)
        if user.call("GET", f"/v1/todos/{task_id}").json().get("title") == "start"
    )
    stack.pg.resume_replay()
    stack.pg.wait_replica_caught_up(60)
    cycles_done = per_user * len(users)
    result.zero(f"stale reads of one's own writes in {cycles_done:,} cycles", len(stale) + len(errors))
    result.notes += [
        f"{cycles_done} cycles (write, read it back, pull the feed) in {elapsed:.1f}s; replica "
        f"{lag_bytes / 1024:.0f} KiB of WAL behind at the end",
        f"control: with the pins deleted, {control} of {len(users)} users read their task's "
        "pre-drill title from the paused replica (proof the replica was serving and stale)",
        *(f"problem: {p}" for p in (stale + errors)[:5]),
    ]
    return result


def _drop_pins(stack: DrillStack) -> None:
    import redis

    connection = redis.Redis(port=stack.services.redis_port)
    for key in connection.scan_iter(match="*ryw:*"):
        connection.delete(key)


# --- 3. Redis killed, then restarted ---------------------------------------------------------
def redis_outage(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("redis", "Redis killed, then restarted")
    people = [Mixed(u, writer=i % 2 == 0) for i, u in enumerate(_users(stack, size.threads, "redis"))]
    load = Load([p.step for p in people]).start()
    begin = time.monotonic()
    time.sleep(size.phase)
    killed_before = time.monotonic()
    stack.services.kill_redis()
    killed = time.monotonic()
    time.sleep(size.phase)
    restart_at = time.monotonic()
    stack.services.start_redis()
    restarted = time.monotonic()
    time.sleep(size.phase)
    samples = load.stop()
    normal = [s.reply.elapsed for s in load.between(begin + 0.5, killed_before) if s.reply.ok]
    down = [s.reply.elapsed for s in load.between(killed, restart_at) if s.reply.ok]
    ratio = percentile(down, 0.5) / max(percentile(normal, 0.5), 1e-6)
    failed = _failures(samples)
    result.zero("5xx responses", len(failed))
    result.at_most("p50 with Redis down ÷ p50 normal", round(ratio, 2), 2)
    after = load.between(restarted, time.monotonic())
    result.notes += [
        f"p50 normal {percentile(normal, 0.5) * 1000:.1f} ms ({len(normal)} requests), Redis down "
        f"{percentile(down, 0.5) * 1000:.1f} ms ({len(down)}), after restart "
        f"{percentile([s.reply.elapsed for s in after if s.reply.ok], 0.5) * 1000:.1f} ms ({len(after)})",
        f"failures: {_describe(failed)}",
        *load.errors[:3],
    ]
    return result


# --- 4. S3 stopped during uploads, then restarted --------------------------------------------
def _proper_503(reply: Reply) -> bool:
    if reply.status != 503 or not reply.header("Retry-After"):
        return False
    if not reply.header("Content-Type").startswith("application/problem+json"):
        return False
    try:
        body = reply.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == 503 and bool(body.get("code"))


def s3_outage(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("s3", "S3 stopped during uploads, then restarted")
    users = _users(stack, size.threads, "s3")

    def uploader(user: User) -> Callable[[random.Random], tuple[str, Reply]]:
        def step(rng: random.Random) -> tuple[str, Reply]:
            body, content_type = client.multipart("drill.pdf", pdf_bytes(title=uuid.uuid4().hex))
            return "upload", user.call("POST", "/v1/files", raw=body, headers={"Content-Type": content_type})

        return step

    load = Load([uploader(u) for u in users]).start()
    time.sleep(size.phase)
    stopping = time.monotonic()
    stack.services.stop_s3()
    stopped = time.monotonic()
    time.sleep(size.phase)
    restarting = time.monotonic()
    stack.services.start_s3()
    time.sleep(size.phase)
    samples = load.stop()

    during = [s for s in samples if s.started >= stopped and s.ended <= restarting]
    bad = [s for s in during if not _proper_503(s.reply)]
    bad += [
        s for s in samples if s not in during and not (s.reply.status in (200, 201) or _proper_503(s.reply))
    ]
    result.zero("responses other than 503 problem+json with Retry-After", len(bad))

    s3 = _s3_client(stack)
    bucket = stack.env["S3_BUCKET"]
    live = {key for (key,) in stack.sql("SELECT storage_key FROM library_file WHERE deleted_at IS NULL")}
    missing = [key for key in live if not _s3_exists(s3, bucket, key)]
    result.zero("DB rows without objects", len(missing))
    before = _s3_keys(s3, bucket)
    report = manage(stack.env, "cleanup_uploads", "--hours", "0")
    live = {key for (key,) in stack.sql("SELECT storage_key FROM library_file WHERE deleted_at IS NULL")}
    open_uploads = {
        key
        for (key,) in stack.sql(
            "SELECT storage_key FROM library_upload WHERE status IN ('pending', 'completing')"
        )
    }
    orphans = [key for key in _s3_keys(s3, bucket) if key not in live and key not in open_uploads]
    result.zero("objects without rows after cleanup", len(orphans))
    created = sum(1 for s in samples if s.reply.status == 201)
    refused = sum(1 for s in samples if _proper_503(s.reply))
    result.notes += [
        f"{len(samples)} uploads: {created} stored, {refused} answered 503 problem+json with "
        f"Retry-After ({len(during)} of them sent while S3 was fully down; its shutdown took "
        f"{stopped - stopping:.1f}s)",
        f"objects before cleanup {len(before)}, orphans among them "
        f"{len([k for k in before if k not in live and k not in open_uploads])}; cleanup: {report.strip()}",
        f"unexpected: {_describe(bad)}",
        *load.errors[:3],
    ]
    return result


def _s3_client(stack: DrillStack) -> Any:
    return stack.s3_client()


def _s3_exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def _s3_keys(s3: Any, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="users/"):
        keys += [entry["Key"] for entry in page.get("Contents", ())]
    return keys


# --- 5. primary killed, standby promoted ----------------------------------------------------
def failover(stack: DrillStack, size: Size, *, use_patroni: bool | None = None) -> DrillResult:
    result = DrillResult("failover", "primary killed (kill -9), replica promoted")
    if use_patroni is None:
        use_patroni = os.environ.get("DRILLS_PROMOTE", "patroni") != "pg_ctl" and patroni_available()
    target: PatroniCluster | PgCtlFailover
    target = PatroniCluster(stack.root) if use_patroni else PgCtlFailover(stack.pg)
    try:
        target.start()
        if isinstance(target, PatroniCluster):
            env = app_env(stack.services, target.url(), target.replica_urls())
            migrate(env)
            app = App(stack.root, env, name="failover")
            stack.extra_apps.append(app)
            app.start()
        else:
            assert stack.app is not None
            app = stack.app
        return _failover(stack, size, target, app, result)
    finally:
        target.stop()


def _failover(
    stack: DrillStack, size: Size, target: PatroniCluster | PgCtlFailover, app: App, result: DrillResult
) -> DrillResult:
    users = _users(stack, size.threads, "failover", app)
    acked: list[tuple[str, float, float]] = []  # (task id, request started, answer received)

    def writer(user: User) -> Callable[[random.Random], tuple[str, Reply]]:
        list_id = user.call("POST", "/v1/todos/lists", {"name": "failover"}).json()["id"]

        def step(rng: random.Random) -> tuple[str, Reply]:
            task_id = str(uuid.uuid4())
            reply = user.call(
                "POST", "/v1/todos", {"id": task_id, "list": list_id, "title": "fo"}, timeout=30
            )
            if reply.status == 201:
                acked.append((task_id, reply.started, reply.started + reply.elapsed))
            return "create task", reply

        return step

    master_pid = app.pid
    load = Load([writer(u) for u in users]).start()
    time.sleep(size.phase)
    killed = time.monotonic()
    target.kill_primary()
    promoted_after = None
    recovered = False
    deadline = killed + 60
    while time.monotonic() < deadline:
        if promoted_after is None and target.promoted():
            promoted_after = time.monotonic() - killed
        # A write that *started* after the kill can only have committed on the new primary.
        recovered = recovered or any(started > killed for _, started, _ in acked[-5:])
        if recovered and promoted_after is not None:
            break
        time.sleep(0.05)
    time.sleep(size.phase / 2)
    samples = load.stop()

    found = {
        str(row[0])
        for row in stack.sql(
            "SELECT id FROM todos_task WHERE id = ANY(%s::uuid[])",
            ([i for i, _, _ in acked],),
            conninfo=target.url(),
        )
    }
    missing = [i for i, _, _ in acked if i not in found]
    result.zero("acknowledged writes missing afterwards", len(missing))
    times = sorted(at for _, _, at in acked)
    gap = max((b - a for a, b in itertools.pairwise(times) if b >= killed), default=float("inf"))
    if not recovered:
        gap = float("inf")
    result.at_most("seconds without successful writes", round(gap, 1), 20)
    same_app = app.process is not None and app.process.poll() is None and app.pid == master_pid
    result.zero("app restarts needed", 0 if recovered and same_app else 1)
    window = [s for s in samples if s.started >= killed and s.reply.status != 201]
    result.notes += [
        f"promotion: {target.mechanism}; new primary after "
        f"{promoted_after if promoted_after is not None else float('nan'):.1f}s",
        f"{len(acked)} writes acknowledged, all checked on the new primary; refused during the "
        f"switch: {_describe(window)}",
        *load.errors[:3],
    ]
    return result


# --- 6. SIGTERM to gunicorn during load ------------------------------------------------------
def sigterm(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("sigterm", "SIGTERM to gunicorn during load")
    app = stack.app
    assert app is not None
    people = [Mixed(u, writer=True) for u in _users(stack, size.threads * 2, "sigterm")]
    load = Load([p.step for p in people]).start()
    time.sleep(size.phase)
    signalled = time.monotonic()
    status = app.terminate(timeout=60)
    exited = time.monotonic()
    time.sleep(0.5)
    samples = load.stop()
    log = app.log_text()
    logged = {
        line.split('"request_id": "', 1)[1][:32] for line in log.splitlines() if '"request_id": "' in line
    }
    worker_killed = "SIGKILL" in log or "WORKER TIMEOUT" in log
    in_flight_at_signal = [s for s in samples if s.started < signalled < s.ended]
    failed = []
    unaccepted = []
    for s in samples:
        if s.reply.kind == "server_error":
            failed.append(s)
        elif s.reply.kind == "cut":
            # Answered by the app (in its access log) but lost, or cut in a killed worker: a
            # failed in-flight request. Never seen by a worker: reset in the accept queue.
            if s.reply.request_id in logged or worker_killed:
                failed.append(s)
            else:
                unaccepted.append(s)
    result.zero("in-flight requests that failed", len(failed))
    refused = sum(1 for s in samples if s.reply.kind == "refused")
    result.notes += [
        f"{len(in_flight_at_signal)} requests in flight at SIGTERM, all answered; gunicorn exited "
        f"{status} after {exited - signalled:.1f}s",
        f"after the listener closed: {refused} connections refused, {len(unaccepted)} reset in the "
        "accept queue before any worker took them (never started; a pod is out of the Service "
        "endpoints before SIGTERM, see docs/operations.md)",
        f"failures: {_describe(failed)}",
    ]
    stack.restart_app()
    return result


# --- 7 + 8. pushes: worker SIGKILLs, random drops ---------------------------------------------
@dataclass
class Pusher:
    """A device pushing batches: 3 new notes (client ids) + one rename of its counter note, whose
    version must end at 1 + renames if every op applied exactly once."""

    user: User
    creates: int = 3
    counter_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    counter_version: int = 0
    renames: int = 0
    op_ids: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    attempts: int = 0
    retries: int = 0
    unexpected: list[str] = field(default_factory=list)

    def setup(self) -> None:
        create = {
            "op_id": self._op(),
            "type": "note",
            "action": "upsert",
            "id": self.counter_id,
            "fields": {"title": "counter", "body": ""},
        }
        results = self.push_until_done([create], lambda body: self.send(body))
        self.counter_version = results[0]["version"]

    def _op(self) -> str:
        return f"op-{uuid.uuid4().hex}"

    def batch(self) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for _ in range(self.creates):
            note_id = str(uuid.uuid4())
            ops.append(
                {
                    "op_id": self._op(),
                    "type": "note",
                    "action": "upsert",
                    "id": note_id,
                    "fields": {"title": f"pushed {note_id}", "body": "x"},
                }
            )
        ops.append(
            {
                "op_id": self._op(),
                "type": "note",
                "action": "upsert",
                "id": self.counter_id,
                "base_version": self.counter_version,
                "fields": {"title": f"counter {uuid.uuid4().hex[:8]}"},
            }
        )
        return ops

    def send(self, body: bytes, drop: bool = False) -> Reply:
        return self.user.call(
            "POST",
            "/v1/sync/push",
            raw=body,
            headers={"Content-Type": "application/json"},
            drop_after_send=drop,
        )

    def push_until_done(
        self, ops: list[dict[str, Any]], send: Callable[[bytes], Reply]
    ) -> list[dict[str, Any]]:
        body = json.dumps({"ops": ops}).encode()
        while True:
            self.attempts += 1
            reply = send(body)
            if reply.status == 200:
                results = reply.json()["results"]
                for op, res in zip(ops, results, strict=True):
                    if res["status"] not in ("applied", "merged"):
                        self.unexpected.append(f"{op['op_id']}: {res['status']} {res.get('code')}")
                self.op_ids += [op["op_id"] for op in ops]
                return list(results)
            if reply.kind == "client_error":
                self.unexpected.append(f"{reply.status} {reply.body[:120]!r}")
                if reply.status != 401:
                    raise RuntimeError(f"push refused: {reply.status} {reply.body[:200]!r}")
            self.retries += 1
            time.sleep(0.01)

    def one_batch(self, send: Callable[[bytes], Reply]) -> None:
        ops = self.batch()
        results = self.push_until_done(ops, send)
        self.created += [op["id"] for op in ops[:-1]]
        self.renames += 1
        self.counter_version = results[-1]["version"]


def _verify_pushes(stack: DrillStack, pushers: list[Pusher]) -> tuple[int, int, list[str]]:
    """(duplicated ops, half-applied ops, details) from the database itself."""
    duplicated = half = 0
    details: list[str] = []
    for p in pushers:
        counter = stack.sql("SELECT version FROM notes_note WHERE id = %s", (p.counter_id,))
        extra = counter[0][0] - (1 + p.renames) if counter else 0
        if extra:
            details.append(f"counter note at version {counter[0][0]}, {1 + p.renames} expected")
        duplicated += abs(extra)
        rows = stack.sql(
            "SELECT id::text, version FROM notes_note WHERE owner_id = %s AND title LIKE 'pushed %%'",
            (p.user.id,),
        )
        versions = dict(rows)
        duplicated += sum(1 for v in versions.values() if v != 1)
        missing = [i for i in p.created if i not in versions]
        unknown = [i for i in versions if i not in set(p.created)]
        recorded = {
            op for (op,) in stack.sql("SELECT op_id FROM sync_pushedop WHERE owner_id = %s", (p.user.id,))
        }
        unrecorded = [op for op in p.op_ids if op not in recorded]
        half += len(missing) + len(unknown) + len(unrecorded) + len(recorded - set(p.op_ids))
        if missing or unknown or unrecorded:
            details.append(
                f"{len(missing)} missing, {len(unknown)} unknown notes, {len(unrecorded)} unrecorded ops"
            )
        details += p.unexpected[:3]
    return duplicated, half, details


def sigkill_pushes(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("sigkill", "SIGKILL of a worker during sync pushes, clients retry")
    app = stack.app
    assert app is not None
    pushers = [Pusher(u) for u in _users(stack, size.threads, "sigkill")]
    for p in pushers:
        p.setup()
    stop = threading.Event()
    kills: list[int] = []

    def push_loop(p: Pusher) -> None:
        while not stop.is_set():
            p.one_batch(lambda body: p.send(body))

    threads = [threading.Thread(target=push_loop, args=(p,)) for p in pushers]
    for thread in threads:
        thread.start()
    rng = random.Random(8)
    for _ in range(size.worker_kills):
        time.sleep(rng.uniform(0.6, 1.4))
        app.wait_workers(1, timeout=30)
        workers = app.worker_pids()
        victim = rng.choice(workers)
        try:
            os.kill(victim, signal.SIGKILL)
            kills.append(victim)
        except ProcessLookupError:
            pass
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    app.wait_workers(2, timeout=30)
    duplicated, half, details = _verify_pushes(stack, pushers)
    result.zero("duplicated ops", duplicated)
    result.zero("half-applied ops", half)
    ops = sum(len(p.op_ids) for p in pushers)
    result.notes += [
        f"{len(kills)} workers SIGKILLed; {sum(p.attempts for p in pushers)} push requests "
        f"({sum(p.retries for p in pushers)} retries) carried {ops} ops, each checked in the database",
        *details[:5],
    ]
    return result


def push_retries(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("retries", f"pushes retried {size.push_attempts:,} times (random drops)")
    app = stack.app
    assert app is not None
    pushers = [Pusher(u, creates=2) for u in _users(stack, size.threads, "retry")]
    for p in pushers:
        p.setup()
    budget = size.push_attempts
    lock = threading.Lock()
    drops = {"response lost": 0, "request cut": 0}

    def flaky_send(p: Pusher, rng: random.Random) -> Callable[[bytes], Reply]:
        def send(body: bytes) -> Reply:
            roll = rng.random()
            if roll < 0.3:  # the answer is lost: the server applied the ops, the client never knows
                with lock:
                    drops["response lost"] += 1
                return p.send(body, drop=True)
            if roll < 0.4:  # the request is cut half-way: the server never sees a whole body
                with lock:
                    drops["request cut"] += 1
                head = (
                    "POST /v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {p.user.access}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                with contextlib.suppress(OSError):
                    client.raw_send(app.port, head + body[: len(body) // 2])
                return Reply("dropped", 0, {}, b"", time.monotonic(), 0.0, "")
            return p.send(body)

        return send

    def loop(p: Pusher, index: int) -> None:
        rng = random.Random(index)
        send = flaky_send(p, rng)
        while True:
            with lock:
                if sum(x.attempts for x in pushers) >= budget:
                    return
            p.one_batch(send)

    threads = [threading.Thread(target=loop, args=(p, i)) for i, p in enumerate(pushers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    duplicated, half, details = _verify_pushes(stack, pushers)
    dup_titles = stack.sql(
        "SELECT count(*) FROM (SELECT title FROM notes_note WHERE title LIKE 'pushed %%' "
        "GROUP BY owner_id, title HAVING count(*) > 1) AS d"
    )[0][0]
    result.zero("duplicate objects", duplicated + dup_titles)
    attempts = sum(p.attempts for p in pushers)
    result.notes += [
        f"{attempts} push requests in {elapsed:.0f}s ({drops['response lost']} responses dropped, "
        f"{drops['request cut']} requests cut mid-body), {sum(p.retries for p in pushers)} retries, "
        f"{sum(len(p.op_ids) for p in pushers)} ops; half-applied {half}",
        *details[:5],
    ]
    if half:
        result.figures.append(Figure("half-applied ops", half, "0", False))
    return result


DRILLS: dict[str, Callable[[DrillStack, Size], DrillResult]] = {
    "replica_killed": replica_killed,
    "replica_lag": replica_lag,
    "redis": redis_outage,
    "s3": s3_outage,
    "sigterm": sigterm,
    "sigkill": sigkill_pushes,
    "retries": push_retries,
    "events_sigterm": events_sigterm,
    "events_redis": events_redis,
    # Its own primary and apps; only the S3 server and Redis are the stack's.
    "pitr": pitr,
    # Last: with pg_ctl promote (no Patroni here) it leaves the drill stack without a standby.
    "failover": failover,
}
