"""Memory of every process the workload runs on (measure 10): the gunicorn master and workers,
each PostgreSQL server's processes (postmaster, background processes, one backend per client
connection), Redis and the S3 server, sampled from /proc while the load runs.

RSS counts a shared page in every process that maps it, so the RSS of PostgreSQL's backends
(which all map shared_buffers) or of gunicorn workers forked from a preloaded master adds up to
far more than the machine gives them. PSS (proportional set size, /proc/<pid>/smaps_rollup)
splits each shared page between the processes that share it: PSS sums to what the processes
really take. Both are reported, per process kind: the peak of the kind's sum over the samples
and the largest single process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIB = 1024 * 1024


def usage(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) of a process in bytes; None once it is gone (or unreadable)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0]) * 1024
    if "Rss" not in values:  # a kernel thread or a zombie
        return None
    return values["Rss"], values.get("Pss", values["Rss"])


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def find_pids(match: Callable[[list[str]], bool]) -> list[int]:
    """Processes whose command line (argv as a list; a rewritten process title is argv[0])
    satisfies `match`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (cmdline := _cmdline(int(entry.name))) and match(cmdline):
            found.append(int(entry.name))
    return found


def _postmaster(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _postgres_kind(server: str, pid: int) -> str:
    """A backend's title is `postgres: <user> <database> <address> <state>`; the background
    processes name themselves (`postgres: checkpointer`, `postgres: walsender ...`)."""
    title = " ".join(_cmdline(pid)).strip()
    if title.startswith("postgres: ") and "(" in title and "walsender" not in title:
        return f"PostgreSQL {server}: backends"
    return f"PostgreSQL {server}: postmaster + background"


def service_processes(app_pid: int | None = None, environ: dict[str, str] | None = None) -> dict[int, str]:
    """pid -> kind for every process of the stack that scripts/devservices.py started (found
    through its environment variables) and of the gunicorn whose master is `app_pid`."""
    env = os.environ if environ is None else environ
    kinds: dict[int, str] = {}
    if app_pid is not None:
        kinds[app_pid] = "gunicorn master"
        kinds.update(dict.fromkeys(children(app_pid), "gunicorn workers"))
    if pg_dir := env.get("DEVSERVICES_PG_DIR"):
        for server in ("primary", "replica"):
            postmaster = _postmaster(Path(pg_dir) / server)
            if postmaster is None:
                continue
            kinds[postmaster] = f"PostgreSQL {server}: postmaster + background"
            for child in children(postmaster):
                kinds[child] = _postgres_kind(server, child)
    if port := env.get("DEVSERVICES_REDIS_PORT"):
        # redis-server retitles itself `redis-server 127.0.0.1:<port>`.
        for pid in find_pids(lambda argv: "redis-server" in argv[0] and argv[0].endswith(f":{port}")):
            kinds[pid] = "Redis"
    if endpoint := env.get("S3_ENDPOINT_URL"):
        flag = f"-s3.port={urlsplit(endpoint).port}"
        for pid in find_pids(lambda argv: Path(argv[0]).name == "weed" and flag in argv):
            kinds[pid] = "S3 (SeaweedFS weed mini)"
    return kinds


Sample = dict[int, tuple[str, int, int]]  # pid -> (kind, RSS, PSS)


@dataclass
class MemorySampler:
    """Samples RSS and PSS of every process of the stack every `interval` seconds in a thread;
    the process list is refreshed at each sample (backends come and go with connections)."""

    app_pid: int | None
    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> Sample:
        taken = {}
        for pid, kind in service_processes(self.app_pid).items():
            if (measured := usage(pid)) is not None:
                taken[pid] = (kind, *measured)
        self.samples.append(taken)
        return taken

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()  # before the load
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()  # one after the load, so a short run has at least two

    def by_kind(self, samples: list[Sample] | None = None) -> dict[str, dict[str, Any]]:
        """Per kind: processes (most seen at once), peak of the sums, largest process; bytes.
        Over every sample unless given some."""
        summary: dict[str, dict[str, Any]] = {}
        for taken in self.samples if samples is None else samples:
            sums: dict[str, dict[str, int]] = {}
            for kind, rss, pss in taken.values():
                kind_sum = sums.setdefault(kind, {"processes": 0, "rss": 0, "pss": 0})
                kind_sum["processes"] += 1
                kind_sum["rss"] += rss
                kind_sum["pss"] += pss
                top = summary.setdefault(
                    kind, {"processes": 0, "rss_sum": 0, "pss_sum": 0, "rss_max": 0, "pss_max": 0}
                )
                top["rss_max"] = max(top["rss_max"], rss)
                top["pss_max"] = max(top["pss_max"], pss)
            for kind, kind_sum in sums.items():
                top = summary[kind]
                top["processes"] = max(top["processes"], kind_sum["processes"])
                top["rss_sum"] = max(top["rss_sum"], kind_sum["rss"])
                top["pss_sum"] = max(top["pss_sum"], kind_sum["pss"])
        return dict(sorted(summary.items(), key=lambda item: _ORDER.get(item[0].split(":")[0], 9)))

    def total(self, kinds: Callable[[str], bool] = lambda kind: True) -> dict[str, int]:
        """Peak over the samples of the summed RSS and PSS of the processes of `kinds`."""
        rss = pss = 0
        for taken in self.samples:
            rss = max(rss, sum(r for kind, r, _ in taken.values() if kinds(kind)))
            pss = max(pss, sum(p for kind, _, p in taken.values() if kinds(kind)))
        return {"rss": rss, "pss": pss}

    def as_dict(self) -> dict[str, Any]:
        """For the result file: per kind, before the load (first sample) and at the peak."""
        before = self.by_kind(self.samples[:1])
        return {"before": before, "peak": self.by_kind(), "samples": len(self.samples)}

    def figures(self) -> list[dict[str, Any]]:
        """The measure's figures: one per kind, then the totals (MiB)."""
        figures = []
        for kind, v in self.by_kind().items():
            figures.append(
                {
                    "label": f"{kind} ({v['processes']}): PSS sum / max, RSS sum / max",
                    "value": (
                        f"{v['pss_sum'] / MIB:.1f} / {v['pss_max'] / MIB:.1f}, "
                        f"{v['rss_sum'] / MIB:.1f} / {v['rss_max'] / MIB:.1f}"
                    ),
                    "unit": "MiB",
                }
            )
        for label, kinds in (
            ("gunicorn, PostgreSQL and Redis together", lambda kind: not kind.startswith("S3")),
            ("every process together (with S3)", lambda kind: True),
        ):
            peak = self.total(kinds)
            figures.append(
                {
                    "label": f"{label}: PSS / RSS",
                    "value": f"{peak['pss'] / MIB:.1f} / {peak['rss'] / MIB:.1f}",
                    "unit": "MiB",
                }
            )
        return figures


_ORDER = {"gunicorn master": 0, "gunicorn workers": 1, "PostgreSQL primary": 2, "PostgreSQL replica": 3}
