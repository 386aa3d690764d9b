"""barman-cloud command lines for the PITR drill, shaped as CloudNativePG's Barman Cloud plugin
shapes them (deploy/kustomize/components/backups): one destination path per cluster in an S3
bucket, the cluster's name as barman's server name, gzip for WAL and base backups.

- `archive_command` / `restore_command` run inside PostgreSQL, as the `postgres` OS user
  (barman-cloud-wal-archive / barman-cloud-wal-restore, what the plugin's sidecar runs);
- `backup`, `backups`, `restore` run from the drill (barman-cloud-backup, -backup-list, -restore).

Credentials reach the tools as AWS_* environment variables, never on a command line.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What barman-cloud needs from the environment to reach S3.
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@functools.cache
def postgres_python() -> tuple[str, dict[str, str]]:
    """An interpreter the `postgres` OS user can run barman's modules with, and its environment.

    PostgreSQL refuses root, so its archive and restore commands run as `postgres`. The drill's
    own virtualenv is the first choice; where its interpreter is out of that user's reach (a
    pyenv build under /root, 0700, as on this project's machines), Debian's python3 of the same
    minor version imports the virtualenv's packages instead (pure Python, plus psycopg2's
    extension, built for the same CPython ABI)."""
    if os.geteuid() != 0:
        return sys.executable, {}
    candidates = [
        (sys.executable, {}),
        ("/usr/bin/python3", {"PYTHONPATH": sysconfig.get_paths()["purelib"]}),
    ]
    for python, extra in candidates:
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", python, "-c", "import barman.clients.cloud_walarchive"],
            capture_output=True,
            env={**os.environ, **extra},
            check=False,
        )
        if probe.returncode == 0:
            return python, extra
    raise RuntimeError(
        "the postgres OS user can run barman-cloud with neither this virtualenv's interpreter nor "
        f"/usr/bin/python3 + PYTHONPATH={sysconfig.get_paths()['purelib']}: make the virtualenv "
        "readable by that user"
    )


@dataclass(frozen=True)
class BarmanCloud:
    """One cluster's backups: s3://<bucket>/<prefix>/<server>/{base,wals}/..."""

    endpoint_url: str
    bucket: str
    server: str
    access_key: str
    secret_key: str
    prefix: str = "postgres"
    region: str = "us-east-1"

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def env(self) -> dict[str, str]:
        """What a process running the tools needs (the drill's servers get it at start)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def _common(self) -> list[str]:
        # Path-style addressing: S3-compatible servers on an address, not a DNS name per bucket.
        return [
            "--cloud-provider",
            "aws-s3",
            "--endpoint-url",
            self.endpoint_url,
            "--addressing-style",
            "path",
        ]

    def _postgres_side(self, module: str, *args: str) -> str:
        python, extra = postgres_python()
        env = [f"{name}={shlex.quote(value)}" for name, value in extra.items()]
        command = [python, "-m", f"barman.clients.{module}", *self._common(), *args]
        return " ".join([*(["env", *env] if env else []), *map(shlex.quote, command)])

    def archive_command(self) -> str:
        """archive_command: each completed WAL segment, gzipped, to .../wals/. PostgreSQL
        recycles a segment only after this returned 0, i.e. after S3 acknowledged the upload."""
        return self._postgres_side("cloud_walarchive", "--gzip", self.destination, self.server, "%p")

    def restore_command(self, spool_dir: Path) -> str:
        """restore_command of a recovering server: fetch one segment (exit 1 when there is none,
        which ends recovery at the end of the archive)."""
        return self._postgres_side(
            "cloud_walrestore", "--spool-dir", str(spool_dir), self.destination, self.server, "%f", "%p"
        )

    def _run(self, tool: str, *args: str, timeout: float = 600) -> str:
        binary = Path(sys.executable).parent / f"barman-cloud-{tool}"
        done = subprocess.run(
            [str(binary), *self._common(), *args],
            capture_output=True,
            text=True,
            env={**{k: v for k, v in os.environ.items() if k not in _AWS_ENV}, **self.env()},
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"barman-cloud-{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        return done.stdout

    def check(self) -> None:
        """The bucket answers with these credentials (barman's own connectivity test)."""
        self._run("backup-list", "--test", self.destination, self.server)

    def backup(self, *, host: str, port: int, user: str, name: str) -> None:
        """An online base backup (pg_backup_start/stop; the data directory streamed as gzipped
        tar parts), as a ScheduledBackup runs it. Reads the data directory, so it runs on the
        database's host (here: as root, which can read it)."""
        self._run(
            "backup",
            "--gzip",
            "--immediate-checkpoint",
            "--host",
            host,
            "--port",
            str(port),
            "--user",
            user,
            "--name",
            name,
            self.destination,
            self.server,
        )

    def backups(self) -> list[dict[str, Any]]:
        """The catalogue: backup_id, begin/end time and WAL, size, status per backup."""
        out = self._run("backup-list", "--format", "json", self.destination, self.server)
        return list(json.loads(out)["backups_list"])

    def restore(self, recovery_dir: Path, *, target_time: str) -> None:
        """Download the newest base backup that ended before `target_time` into recovery_dir
        (`auto`: barman picks it from the catalogue, as the operator does)."""
        self._run(
            "restore", "--target-time", target_time, self.destination, self.server, "auto", str(recovery_dir)
        )


def server_env(barman: BarmanCloud, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a PostgreSQL server whose archive/restore command uses `barman`."""
    return {**(base or {}), **barman.env()}
