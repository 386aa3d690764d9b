"""The two ways the failover drill can promote a standby.

- `PatroniCluster`: what the prod overlay relies on. Two PostgreSQL nodes run by Patroni (Debian
  `patroni`), one etcd (Debian `etcd-server`) as the consensus store, `synchronous_mode: true`
  so a commit is acknowledged only once the synchronous standby has it. The drill kills the
  leader's Patroni *and* its postmaster with SIGKILL (a node dying; killing the postmaster alone
  only makes Patroni restart it in place) and Patroni promotes the standby once the leader key
  expires (ttl).
- `PgCtlFailover`: when Patroni cannot run here. The drill stack's own primary + standby with
  synchronous replication turned on; a watcher plays Patroni's part: after the primary fails
  two probes in a row it runs `pg_ctl promote` on the standby.

Both hand out a libpq multi-host URL with `target_session_attrs=read-write`: the app needs no
restart, its next connection simply lands on the new primary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from scripts.services import APP_PASSWORD, Postgres, free_port, log, pg_bin, wait_for_port

SUPERUSER_PASSWORD = "patroni-superuser"


def patroni_available(install: bool = True) -> bool:
    """Patroni and etcd on PATH; installed from Debian's packages when missing and we are root."""
    if shutil.which("patroni") and shutil.which("etcd"):
        return True
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log("installing patroni and etcd-server (Debian packages) for the failover drill")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "patroni", "etcd-server"],
    ):
        if subprocess.run(command, env=env, capture_output=True, timeout=600, check=False).returncode:
            return False
    return bool(shutil.which("patroni") and shutil.which("etcd"))


def _as_postgres_exec(cmd: list[str]) -> list[str]:
    # setpriv execs (runuser forks): the PID we hold is the daemon's own, so SIGKILL hits it.
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *cmd]
    return cmd


class PatroniCluster:
    mechanism = "Patroni 3 + etcd 3.4 (synchronous_mode), leader's Patroni and postmaster SIGKILLed"

    def __init__(self, root: Path, ttl: int = 5) -> None:
        self.root = root / "patroni"
        self.ttl = ttl
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.nodes = {name: {"pg": free_port(), "rest": free_port()} for name in ("n1", "n2")}
        self.procs: dict[str, subprocess.Popen] = {}
        self.scope = f"drill{os.getpid()}"
        self.killed: set[str] = set()
        self.old_leader: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        logfile = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            _as_postgres_exec(cmd), stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        logfile.close()
        self.procs[name] = proc
        return proc

    def _config(self, name: str) -> Path:
        node = self.nodes[name]
        data = self.root / name
        path = self.root / f"{name}.yml"
        path.write_text(
            json.dumps(  # YAML is a superset of JSON
                {
                    "scope": self.scope,
                    "namespace": "/drills/",
                    "name": name,
                    "restapi": {
                        "listen": f"127.0.0.1:{node['rest']}",
                        "connect_address": f"127.0.0.1:{node['rest']}",
                    },
                    "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
                    "bootstrap": {
                        "dcs": {
                            "ttl": self.ttl,
                            "loop_wait": 1,
                            "retry_timeout": 2,
                            "maximum_lag_on_failover": 1048576,
                            "synchronous_mode": True,
                            "postgresql": {
                                "use_pg_rewind": True,
                                "parameters": {
                                    "wal_level": "replica",
                                    "hot_standby": "on",
                                    "wal_log_hints": "on",
                                    "max_wal_senders": 10,
                                    "max_connections": 100,
                                },
                            },
                        },
                        "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
                    },
                    "postgresql": {
                        "listen": f"127.0.0.1:{node['pg']}",
                        "connect_address": f"127.0.0.1:{node['pg']}",
                        "data_dir": str(data / "data"),
                        "bin_dir": str(pg_bin()),
                        "pgpass": str(data / "pgpass"),
                        "pg_hba": [
                            "local all all trust",
                            "host replication replicator 127.0.0.1/32 scram-sha-256",
                            "host all all 127.0.0.1/32 scram-sha-256",
                        ],
                        "authentication": {
                            "superuser": {"username": "postgres", "password": SUPERUSER_PASSWORD},
                            "replication": {"username": "replicator", "password": "replicator"},
                            "rewind": {"username": "rewinder", "password": "rewinder"},
                        },
                        "parameters": {
                            "unix_socket_directories": str(data),
                            "fsync": "off",
                            "full_page_writes": "off",
                        },
                    },
                }
            )
        )
        return path

    def start(self, timeout: float = 60.0) -> None:
        self.root.mkdir(parents=True)
        for name in ("etcd", "n1", "n2"):
            (self.root / name).mkdir()
        if os.geteuid() == 0:
            for path in (self.root, self.root / "etcd", self.root / "n1", self.root / "n2"):
                shutil.chown(path, "postgres", "postgres")
        etcd = self._spawn(
            "etcd",
            [
                "etcd",
                "--name",
                "drill",
                "--data-dir",
                str(self.root / "etcd" / "data"),
                "--listen-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{self.etcd_peer}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{self.etcd_peer}",
                "--initial-cluster",
                f"drill=http://127.0.0.1:{self.etcd_peer}",
                "--initial-cluster-state",
                "new",
            ],
        )
        wait_for_port(self.etcd_port, 20, etcd)
        for name in ("n1", "n2"):
            config = self._config(name)
            if os.geteuid() == 0:
                shutil.chown(config, "postgres", "postgres")
            self._spawn(name, ["patroni", str(config)])
            if name == "n1":
                self._wait(lambda: self.leader() == "n1", timeout, "n1 did not become the leader")
        self._wait(self._has_sync_standby, timeout, "no synchronous standby")
        self._create_app_database()
        log(f"patroni cluster up: leader {self.leader()}, nodes {self.nodes}")

    def _wait(self, check: object, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None and name not in self.killed:
                    tail = (self.root / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited: {tail}")
            if check():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise RuntimeError(f"patroni: {message} after {timeout}s")

    def _status(self, name: str) -> dict:
        try:
            url = f"http://127.0.0.1:{self.nodes[name]['rest']}/patroni"
            with urllib.request.urlopen(url, timeout=1) as response:
                return dict(json.loads(response.read()))
        except (OSError, ValueError):
            return {}

    def leader(self) -> str | None:
        for name in self.nodes:
            if name in self.killed:
                continue
            if self._status(name).get("role") in ("master", "primary"):
                return name
        return None

    def _has_sync_standby(self) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        replication = self._status(leader).get("replication") or []
        return any(r.get("sync_state") == "sync" and r.get("state") == "streaming" for r in replication)

    def _psql(self, name: str, sql: str) -> str:
        done = subprocess.run(
            _as_postgres_exec(
                [
                    str(pg_bin() / "psql"),
                    "-h",
                    str(self.root / name),
                    "-p",
                    str(self.nodes[name]["pg"]),
                    "-U",
                    "postgres",
                    "-X",
                    "-qAt",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"psql on {name}: {done.stderr}")
        return done.stdout.strip()

    def _create_app_database(self) -> None:
        leader = self.leader()
        assert leader is not None
        self._psql(leader, f"CREATE ROLE app WITH LOGIN CREATEDB PASSWORD '{APP_PASSWORD}'")
        self._psql(leader, "CREATE DATABASE app OWNER app")

    # --- what the drill uses -----------------------------------------------------------------
    def url(self, target_session_attrs: str = "read-write") -> str:
        hosts = ",".join(f"127.0.0.1:{node['pg']}" for node in self.nodes.values())
        return f"postgresql://app:{APP_PASSWORD}@{hosts}/app?target_session_attrs={target_session_attrs}"

    def replica_urls(self) -> str:
        return self.url("prefer-standby")

    def kill_primary(self) -> None:
        leader = self.leader()
        assert leader is not None
        self.old_leader = leader
        data = self.root / leader / "data"
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        self.killed.add(leader)
        self.procs[leader].send_signal(signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster, signal.SIGKILL)

    def promoted(self) -> bool:
        return self.leader() not in (None, self.old_leader)

    def stop(self) -> None:
        for name in ("n2", "n1"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # Patroni stops its postgres itself
        for name in ("n2", "n1"):
            proc = self.procs.get(name)
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for name in ("n1", "n2"):  # orphans of a SIGKILLed Patroni
            data = self.root / name / "data"
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    _as_postgres_exec([str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                    capture_output=True,
                    check=False,
                )
        etcd = self.procs.get("etcd")
        if etcd is not None and etcd.poll() is None:
            etcd.terminate()
            try:
                etcd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                etcd.kill()


class PgCtlFailover:
    mechanism = "pg_ctl promote by a watcher (2 failed probes), synchronous replication on"

    def __init__(self, pg: Postgres, probe_interval: float = 0.5) -> None:
        self.pg = pg
        self.probe_interval = probe_interval
        self._promoted = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self.pg.set_synchronous(True)

    def url(self, target_session_attrs: str = "read-write") -> str:
        return self.pg.multi_host_url(target_session_attrs=target_session_attrs)

    def replica_urls(self) -> str:
        return self.pg.url(self.pg.replica_port)

    def kill_primary(self) -> None:
        self.pg.kill("primary")
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        import psycopg

        failures = 0
        while failures < 2:
            try:
                psycopg.connect(self.pg.url(self.pg.primary_port), connect_timeout=1).close()
                failures = 0
            except psycopg.OperationalError:
                failures += 1
            time.sleep(self.probe_interval)
        self.pg.promote_replica()
        self._promoted.set()

    def promoted(self) -> bool:
        return self._promoted.is_set()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.join(timeout=30)
