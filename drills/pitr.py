"""Backups and point-in-time recovery (issue 16): the mistake replication faithfully copies.

A PostgreSQL primary of its own, configured as the prod overlay's CloudNativePG cluster
(deploy/kustomize/components/backups): WAL archived continuously with barman-cloud to a bucket
on the stack's S3 server, `archive_timeout` bounding how long a quiet segment waits, an online
base backup taken under load. The app (gunicorn, production settings) runs on it; writers create
tasks through the API, each with its own id, and the drill keeps when each request started and
when its 201 came back. Then:

1. a point in time T is recorded while writes go on, and writes continue after it;
2. the mistake: `DELETE FROM todos_task` (every task of every user gone, and replicated); a
   library file that existed at T was also deleted after it (row tombstoned, object deleted);
3. a NEW server is restored from the bucket to T: barman-cloud-restore picks the newest base
   backup that ended before T, `restore_command` (barman-cloud-wal-restore) replays the archive
   and `recovery_target_time` stops the replay at T, then the server is promoted;
4. checks on the restored server: every write acknowledged before T is there, no write started
   after T is, nothing else is; a second app starts against it and `/readyz` answers 200;
   `restore_file_objects` brings the file's object back from the versioned bucket and the app
   serves its bytes again.

RPO, measured rather than assumed: while the writers run, a sampler notes the WAL insert
position every 0.2 s and the time its segment shows up as archived in `pg_stat_archiver`; the
longest wait is what a write committed then would have lost had the primary and its disk
vanished (a restore can only replay what reached the bucket).
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.services import APP_PASSWORD, Postgres, free_port, get, log, pdf_bytes

from . import client
from .barman import BarmanCloud
from .client import Reply, User
from .load import Load
from .results import DrillResult, Figure, Size
from .stack import App, DrillStack, app_env, manage, migrate

# Where the prod overlay's cluster archives (components/backups: a bucket of its own) and the
# name barman files it under (CloudNativePG uses the Cluster's name).
BACKUP_BUCKET = "exampleapp-db-backups"
SERVER_NAME = "exampleapp-db"
# The library bucket of the drill's apps keeps object versions, as docs/operations.md asks of the
# production bucket: a file deleted after T comes back with the rows (restore_file_objects).
MEDIA_BUCKET = "exampleapp-media-versioned"


@dataclass
class Write:
    owner: str  # the drill user's id
    task_id: str
    started: float  # wall clock (time.time()): the same clock as PostgreSQL's commit timestamps
    ended: float
    acknowledged: bool


@dataclass
class ArchiveSampler:
    """Every `interval` s: the WAL segment holding everything committed so far, and the newest
    segment in the archive. The exposure of a sample is how long until its segment was archived."""

    conninfo: str
    interval: float = 0.2
    samples: list[tuple[float, str]] = field(default_factory=list)  # (time, segment at that time)
    archived: list[tuple[float, str]] = field(default_factory=list)  # (time seen, last archived)
    sampling: bool = True  # False: only the archive's progress is still recorded
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[str] = field(default_factory=list)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
            while not self._stop.is_set():
                try:
                    now = time.time()
                    row = conn.execute(
                        "SELECT pg_walfile_name(pg_current_wal_insert_lsn()), "
                        "coalesce((SELECT last_archived_wal FROM pg_stat_archiver), '')"
                    ).fetchone()
                    assert row is not None
                    if self.sampling:
                        self.samples.append((now, row[0]))
                    self.archived.append((now, row[1]))
                except Exception as exc:  # reported, not hidden: a sampler gap weakens the figure
                    self.errors.append(repr(exc))
                time.sleep(self.interval)

    def start(self) -> ArchiveSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop_sampling(self) -> None:
        self.sampling = False

    def last_segment(self) -> str:
        return max((segment for _, segment in self.samples), default="")

    def wait_archived(self, segment: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.archived and self.archived[-1][1] >= segment:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def exposures(self) -> list[float]:
        """Per sample: seconds until an archived segment >= its segment was seen (segment names
        of one timeline sort in WAL order). Samples never seen archived are left out (and
        counted by the caller)."""
        out = []
        for at, segment in self.samples:
            seen = next((t for t, done in self.archived if t >= at and done >= segment), None)
            if seen is not None:
                out.append(seen - at)
        return out


class PitrDrill:
    def __init__(self, stack: DrillStack, size: Size) -> None:
        self.stack = stack
        self.size = size
        self.root = stack.root / "pitr"
        # The restored server lives in the same directory as "restored", on the second port.
        self.pg = Postgres(self.root, free_port(), free_port())
        self.barman = BarmanCloud(
            endpoint_url=stack.env["S3_ENDPOINT_URL"],
            bucket=BACKUP_BUCKET,
            server=SERVER_NAME,
            access_key=stack.env["S3_ACCESS_KEY_ID"],
            secret_key=stack.env["S3_SECRET_ACCESS_KEY"],
            spare=stack.root / "barman-lib",
        )
        self.apps: list[App] = []
        self.env: dict[str, str] = {}  # the environment of the last app started

    # --- the archived primary and its app -----------------------------------------------------
    def _create_buckets(self) -> None:
        s3 = self.stack.s3_client()
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        for bucket in (BACKUP_BUCKET, MEDIA_BUCKET):
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=MEDIA_BUCKET, VersioningConfiguration={"Status": "Enabled"})

    def start_primary(self) -> None:
        self._create_buckets()
        self.barman.check()
        self.pg.start(
            replica=False,
            settings={
                # As CloudNativePG runs an instance: archiving on, full-page writes on (the base
                # backup and crash safety need them; the test stack turns them off for speed).
                "archive_mode": "on",
                "archive_command": self.barman.archive_command(),
                "archive_timeout": f"{self.size.archive_timeout}s",
                "full_page_writes": "on",
            },
            env=self.barman.env(),
        )

    def app(self, database_url: str, name: str) -> App:
        env = app_env(
            self.stack.services,
            database_url=database_url,
            replica_urls="",
            # Its own cache namespace: sessions and pins of one app must not leak into the other.
            CACHE_KEY_PREFIX=f"drill-{name}",
            S3_BUCKET=MEDIA_BUCKET,
        )
        self.env = env
        migrate(env)
        app = App(self.stack.root, env, name=name)
        self.apps.append(app)
        app.start()
        return app

    def url(self, port: int) -> str:
        return f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{port}/app"

    def sql(self, port: int, query: str, params: Any = None) -> list[tuple]:
        return self.stack.sql(query, params, conninfo=self.url(port))

    def execute(self, port: int, statement: str, params: Any = None) -> None:
        import psycopg

        with psycopg.connect(self.url(port), autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement, params)

    def ballast(self) -> None:
        """Rows beside the app's, so the restore moves a database of a known size. Random hex:
        compresses about 2:1 like real text, not 100:1 like repeated strings."""
        rows = self.size.ballast_mb * 1024 * 1024 // 1000
        self.execute(
            self.pg.primary_port,
            "CREATE TABLE drill_ballast AS SELECT g AS id, "
            "(SELECT string_agg(md5(random()::text || g::text || n::text), '') "
            " FROM generate_series(1, 31) AS n) AS payload "
            "FROM generate_series(1, %s) AS g",
            (rows,),
        )

    def catch_up_archive(self) -> None:
        """Setup, not the measure: the ballast's WAL (many segments at once) is archived before
        the RPO sampler starts, so its backlog is not counted as the steady state."""
        segment = self.pg.psql(self.pg.primary_port, "SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + 300
        while self.pg.psql(self.pg.primary_port, "SELECT last_archived_wal FROM pg_stat_archiver") < segment:
            if time.monotonic() > deadline:
                raise RuntimeError(f"WAL segment {segment} not archived in 300 s")
            time.sleep(0.2)

    # --- the restore ------------------------------------------------------------------------------
    def restore(self, target: str) -> tuple[float, float]:
        """barman-cloud-restore into a new data directory, then recovery to `target` and
        promotion. Returns (seconds to fetch the base backup, seconds to replay and promote)."""
        data = self.pg.data_dir("restored")
        started = time.monotonic()
        self.barman.restore(data, target_time=target)
        fetched = time.monotonic()
        spool = self.root / "walrestore-spool"
        spool.mkdir()
        (data / "pg_wal").mkdir(exist_ok=True)
        (data / "recovery.signal").touch()
        # postgresql.auto.conf is read last: these override what the backup brought along. The
        # restored server must never archive into the original's archive (a new cluster gets a
        # new server name or none); the backup's postgresql.conf still names the old port.
        with open(data / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"\nport = {self.pg.replica_port}\n"
                "archive_mode = off\n"
                f"restore_command = '{self.barman.restore_command(spool).replace(chr(39), chr(39) * 2)}'\n"
                f"recovery_target_time = '{target}'\n"
                "recovery_target_action = 'promote'\n"
            )
        if os.geteuid() == 0:
            for path in (data, spool):
                shutil.chown(path, "postgres", "postgres")
                for child in path.rglob("*"):
                    shutil.chown(child, "postgres", "postgres")
        data.chmod(0o700)
        self.pg.pg_ctl("restored", "start", env=self.barman.env())
        deadline = time.monotonic() + 300
        while self.pg.is_in_recovery(self.pg.replica_port):
            if time.monotonic() > deadline:
                raise RuntimeError("the restored server did not finish recovery in 300 s")
            time.sleep(0.05)
        return fetched - started, time.monotonic() - fetched

    def stop(self) -> None:
        for app in self.apps:
            app.stop()
        for which in ("restored", "primary"):
            if (self.pg.data_dir(which) / "postmaster.pid").exists():
                self.pg.pg_ctl(which, "stop", "-m", "immediate")


def _writer(user: User, list_id: str, writes: list[Write]) -> Callable[[random.Random], tuple[str, Reply]]:
    def step(rng: random.Random) -> tuple[str, Reply]:
        task_id = str(uuid.uuid4())
        started = time.time()
        reply = user.call("POST", "/v1/todos", {"id": task_id, "list": list_id, "title": "pitr"}, timeout=30)
        writes.append(Write(user.id, task_id, started, time.time(), reply.status == 201))
        return "create task", reply

    return step


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(sep=" ", timespec="microseconds")


def pitr(stack: DrillStack, size: Size) -> DrillResult:
    result = DrillResult("pitr", "point-in-time restore after a DELETE of every task")
    drill = PitrDrill(stack, size)
    try:
        return _run(drill, result)
    finally:
        drill.stop()


def _run(drill: PitrDrill, result: DrillResult) -> DrillResult:
    size = drill.size
    drill.start_primary()
    primary = drill.pg.primary_port
    app = drill.app(drill.url(primary), "pitr")
    drill.ballast()
    drill.catch_up_archive()
    users = [User.create(app.port, "pitr") for _ in range(size.threads)]
    # A library file that exists at T and is deleted after it (its object with it).
    pdf = pdf_bytes(title="pitr")
    body, content_type = client.multipart("before-t.pdf", pdf)
    upload = users[0].call("POST", "/v1/files", raw=body, headers={"Content-Type": content_type})
    if upload.status != 201:
        raise RuntimeError(f"upload: {upload.status} {upload.body[:200]!r}")
    file_id = upload.json()["id"]
    writes: list[Write] = []
    steps = []
    for user in users:
        list_id = user.call("POST", "/v1/todos/lists", {"name": "pitr"}).json()["id"]
        steps.append(_writer(user, list_id, writes))

    sampler = ArchiveSampler(drill.url(primary)).start()
    load = Load(steps).start()
    time.sleep(size.phase)
    # The base backup runs under load, as a ScheduledBackup does.
    began = time.monotonic()
    drill.barman.backup(host=str(drill.pg.socket_dir), port=primary, user="postgres", name="drill")
    backup_seconds = time.monotonic() - began
    time.sleep(size.phase)
    target_at = time.time()
    target = _iso(target_at)
    time.sleep(size.phase)
    load.stop()
    sampler.stop_sampling()
    # Every segment written during the load reaches the archive by itself within archive_timeout
    # (nothing is forced: pg_switch_wal would flatter the RPO figure).
    archived_in_time = sampler.wait_archived(sampler.last_segment(), size.archive_timeout + 30)
    sampler.stop()

    file_deleted = users[0].call("DELETE", f"/v1/files/{file_id}").status
    file_key = drill.sql(primary, "SELECT storage_key FROM library_file WHERE id = %s", (file_id,))[0][0]
    # The mistake, as an operator's session would make it.
    deleted = drill.sql(
        primary, "WITH gone AS (DELETE FROM todos_task RETURNING 1) SELECT count(*) FROM gone"
    )[0][0]
    left = drill.sql(primary, "SELECT count(*) FROM todos_task")[0][0]
    db_bytes = int(drill.sql(primary, "SELECT pg_database_size('app')")[0][0])

    fetch_seconds, replay_seconds = drill.restore(target)
    restored = drill.pg.replica_port
    present = {str(row[0]) for row in drill.sql(restored, "SELECT id FROM todos_task")}

    acked_before = [w for w in writes if w.acknowledged and w.ended < target_at]
    started_after = [w for w in writes if w.started > target_at]
    in_flight = [w for w in writes if w.started <= target_at <= w.ended]
    missing = [w for w in acked_before if w.task_id not in present]
    resurrected = [w for w in started_after if w.task_id in present]
    known = {w.task_id for w in writes}
    strangers = [task_id for task_id in present if task_id not in known]
    result.zero("writes acknowledged before the target, missing after the restore", len(missing))
    result.zero(
        "writes started after the target, present after the restore", len(resurrected) + len(strangers)
    )
    # Control: without writes on both sides of T and a real mistake the checks prove nothing.
    control = bool(acked_before) and any(w.acknowledged for w in started_after) and deleted > 0 and left == 0
    result.figures.append(
        Figure(
            "control: acknowledged writes on both sides of the target, table emptied",
            int(control),
            "1",
            control,
        )
    )

    # The rows are back as of T; the file's object was deleted after T: bring it back from the
    # bucket's versions, as the runbook says, before the app serves the restored database.
    s3 = drill.stack.s3_client()
    object_gone = not _exists(s3, MEDIA_BUCKET, file_key)
    restored_app = drill.app(drill.url(restored), "pitr-restored")
    objects_report = manage(drill.env, "restore_file_objects").strip()
    ready, _ = get(restored_app.port, "/readyz?strict=1", {"Host": "127.0.0.1"})
    # The restored app serves the restored rows: a task from before T is there, one from after is not.
    reader = users[0]
    reader.port = restored_app.port
    reader.login()
    before_id = next(w.task_id for w in acked_before if w.owner == reader.id)
    after_ids = [w.task_id for w in started_after if w.acknowledged and w.owner == reader.id]
    served = reader.call("GET", f"/v1/todos/{before_id}").status
    gone = reader.call("GET", f"/v1/todos/{after_ids[-1]}").status if after_ids else 0
    result.zero("restored app: /readyz?strict=1 not 200", 0 if ready == 200 else 1)
    content = reader.call("GET", f"/v1/files/{file_id}/content")
    served_bytes = _follow(content)
    result.zero(
        "library file deleted after T: not served byte for byte after the restore",
        0 if served_bytes == pdf and object_gone and file_deleted == 204 else 1,
    )
    result.zero(
        "restored app: a task from before T not served, or one from after T served",
        0 if (served, gone) == (200, 404) else 1,
    )

    exposures = sampler.exposures()
    unarchived = len(sampler.samples) - len(exposures)
    rpo = max(exposures, default=float("inf")) if archived_in_time and not unarchived else float("inf")
    result.at_most(
        f"RPO: longest a commit waited for its WAL in S3, archive_timeout {size.archive_timeout} s (s)",
        round(rpo, 1),
        size.archive_timeout + 10,
    )
    restore_seconds = fetch_seconds + replay_seconds
    result.at_most(
        "seconds to restore (base backup + replay to T + promotion)", round(restore_seconds, 1), 300
    )

    backups = drill.barman.backups()
    _, backup_bytes = _stored(drill, "base")
    wal_count, wal_bytes = _stored(drill, "wals")
    replayed = _restored_segments(drill)
    result.notes += [
        f"{len(writes)} writes through the API ({len(acked_before)} acknowledged before T, "
        f"{len(started_after)} started after, {len(in_flight)} in flight at T: "
        f"{sum(1 for w in in_flight if w.task_id in present)} of them committed before it); "
        f"the DELETE removed {deleted} tasks, the restore brought back {len(present)}",
        f"{len(backups)} base backup ({', '.join(b['backup_id'] for b in backups)}); "
        f"database {db_bytes / 2**20:.0f} MiB ({size.ballast_mb} MiB ballast); base backup under load in "
        f"{backup_seconds:.1f} s, {backup_bytes / 2**20:.1f} MiB in S3 (gzip); WAL archive: {wal_count} "
        f"segments, {wal_bytes / 2**20:.1f} MiB (gzip)",
        f"restore: base backup fetched in {fetch_seconds:.1f} s, {replayed} WAL segments replayed to T "
        f"and promoted in {replay_seconds:.1f} s; restored app: /readyz?strict=1 -> {ready}, a task "
        f"from before T -> {served}, one from after T -> {gone}",
        f"library file deleted after T (DELETE -> {file_deleted}; object gone before the restore: "
        f"{object_gone}): restore_file_objects: {objects_report}; content -> {content.status}, "
        f"{len(served_bytes or b'')} of {len(pdf)} bytes, identical: {served_bytes == pdf}",
        f"RPO sampler: {len(sampler.samples)} samples, median wait "
        f"{sorted(exposures)[len(exposures) // 2] if exposures else float('nan'):.1f} s, "
        f"{unarchived} never archived; archive_timeout {size.archive_timeout} s",
        *sampler.errors[:3],
    ]
    log(f"pitr: target {target}, restore {restore_seconds:.1f}s, RPO {rpo:.1f}s")
    return result


def _stored(drill: PitrDrill, part: str) -> tuple[int, int]:
    """(objects, bytes) under the server's `base/` (backups) or `wals/` (archive) in the bucket."""
    s3 = drill.stack.s3_client()
    count = total = 0
    prefix = f"{drill.barman.prefix}/{drill.barman.server}/{part}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BACKUP_BUCKET, Prefix=prefix):
        for entry in page.get("Contents", ()):
            count += 1
            total += int(entry["Size"])
    return count, total


def _restored_segments(drill: PitrDrill) -> int:
    """WAL segments the restored server fetched (its log says `restored log file` per segment)."""
    log_path: Path = drill.root / "restored.log"
    try:
        return log_path.read_text(errors="replace").count("restored log file")
    except OSError:
        return 0


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def _follow(reply: Reply) -> bytes | None:
    """The bytes behind a content answer: the presigned S3 URL it redirects to, fetched."""
    import urllib.request

    location = reply.header("Location")
    if reply.status not in (301, 302, 307) or not location:
        return None
    try:
        with urllib.request.urlopen(location, timeout=10) as answer:  # noqa: S310 - the stack's S3
            return bytes(answer.read())
    except OSError:  # HTTPError included: the object is not there
        return None
