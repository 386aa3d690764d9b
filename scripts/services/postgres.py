"""A throwaway PostgreSQL primary and streaming replica (initdb + pg_basebackup in a temp dir; as
the `postgres` OS user when run as root, since PostgreSQL refuses root). Tests use `Postgres` to
pause replay or stop the replica."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .common import APP_PASSWORD


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

    def run(
        self, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
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

    def pg_ctl(self, which: str, action: str, *extra: str, env: Mapping[str, str] | None = None) -> None:
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
            env=env,
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

    def start(
        self,
        *,
        replica: bool = True,
        settings: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """initdb and start the primary (plus the streaming replica unless `replica=False`).
        `settings` are appended to the primary's postgresql.conf (the PITR drill's archiving);
        `env` is the server's environment (what its archive_command sees)."""
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
        settings_text = f"""
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
        for name, value in (settings or {}).items():
            quoted = value.replace("'", "''")
            settings_text += f"{name} = '{quoted}'\n"
        self.run("sh", "-c", f"cat >> '{primary}/postgresql.conf' <<'EOF'\n{settings_text}\nEOF")
        self.run(
            "sh",
            "-c",
            f"echo 'host replication replicator 127.0.0.1/32 scram-sha-256' >> '{primary}/pg_hba.conf'",
        )
        self.pg_ctl("primary", "start", env=env)
        self.psql(
            self.primary_port,
            "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD 'replicator'",
            f"CREATE ROLE app WITH LOGIN CREATEDB PASSWORD '{APP_PASSWORD}'",
            "CREATE DATABASE app OWNER app",
        )
        if replica:
            self.start_standby()

    def start_standby(self) -> None:
        """pg_basebackup the primary into the replica's directory and start it streaming."""
        binary = pg_bin()
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
