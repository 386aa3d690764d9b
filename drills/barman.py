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
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What barman-cloud needs from the environment to reach S3.
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


# What barman-cloud's WAL commands import (boto3 and its dependencies only once they talk to S3).
_PACKAGES = (
    "barman",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six.py",
    "urllib3",
    "psycopg2",
)


def _imports_as_postgres(python: str, extra: Mapping[str, str]) -> bool:
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", python, "-c", "import barman.clients.cloud_walarchive, boto3"],
        capture_output=True,
        env={**os.environ, **extra},
        check=False,
    )
    return probe.returncode == 0


@functools.cache
def postgres_python(spare: Path) -> tuple[str, dict[str, str]]:
    """An interpreter the `postgres` OS user can run barman's modules with, and its environment.

    PostgreSQL refuses root, so its archive and restore commands run as `postgres`. The drill's
    own virtualenv is the first choice. Where its interpreter is out of that user's reach (a
    pyenv build under /root, 0700, as on this project's machines), Debian's python3 of the same
    minor version imports the virtualenv's packages instead (pure Python, plus psycopg2's
    extension, built for the same CPython ABI); where the virtualenv itself is out of reach too
    (a checkout under /root), from a copy of those packages in `spare`, a directory of the
    drill's own."""
    if os.geteuid() != 0:
        return sys.executable, {}
    site = sysconfig.get_paths()["purelib"]
    if _imports_as_postgres(sys.executable, {}):
        return sys.executable, {}
    system = "/usr/bin/python3"
    if _imports_as_postgres(system, {"PYTHONPATH": site}):
        return system, {"PYTHONPATH": site}
    spare.mkdir(parents=True, exist_ok=True)
    for name in _PACKAGES:
        source = Path(site) / name
        if source.is_dir():
            shutil.copytree(source, spare / name, dirs_exist_ok=True)
        elif source.exists():
            shutil.copy2(source, spare / name)
    for path in (spare, *spare.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    if _imports_as_postgres(system, {"PYTHONPATH": str(spare)}):
        return system, {"PYTHONPATH": str(spare)}
    raise RuntimeError(
        f"the postgres OS user cannot run barman-cloud: neither {sys.executable} nor {system} "
        f"imports it (virtualenv {site}, copy in {spare})"
    )


@dataclass(frozen=True)
class BarmanCloud:
    """One cluster's backups: s3://<bucket>/<prefix>/<server>/{base,wals}/..."""

    endpoint_url: str
    bucket: str
    server: str
    access_key: str
    secret_key: str
    # Where a copy of barman's packages goes if the postgres user cannot read the virtualenv.
    spare: Path
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
        python, extra = postgres_python(self.spare)
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
        database's host (here: as root, which can read it). The checkpoint that starts it is
        immediate: a drill cannot wait for a spread one, which the daily backup in production
        takes (the ObjectStore leaves `immediateCheckpoint` off)."""
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
