"""Results of `make bench`: bench/results/<date>.json, the console table, docs/benchmarks.md and
its plot of pull latency against account size."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-pull-latency.png"
ANALYSIS = ROOT / "bench" / "analysis.md"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024

    def version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            return done.stdout.strip()
        except OSError:
            return "unknown"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": version(["psql", "--version"]).replace("psql (PostgreSQL) ", ""),
        "wrk": " ".join(version(["wrk", "-v"]).split()[:2]) or "wrk",
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "gunicorn": "2 sync workers (exampleapp/gunicorn.conf.py), production settings",
    }


def document(
    results: list[dict[str, Any]],
    *,
    mode: str,
    scale: Any,
    seed_seconds: float,
    elapsed: float,
    date: datetime,
) -> dict[str, Any]:
    return {
        "date": date.isoformat(timespec="seconds"),
        "mode": mode,
        "machine": machine(),
        "scale": asdict(scale),
        "seed_seconds": round(seed_seconds, 1),
        "elapsed_seconds": round(elapsed, 1),
        "measures": results,
    }


def write_json(doc: dict[str, Any], *, suffix: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = doc["date"][:10]
    mode = "-quick" if doc["mode"] == "quick" else ""
    path = RESULTS / f"{stamp}{mode}{suffix}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


def _verdict(result: dict[str, Any]) -> str:
    checks = result.get("checks", [])
    hard = [c for c in checks if not c.get("aim")]
    if not hard:
        return "reported" + (" (aim met)" if all(c["pass"] for c in checks) else " (aim missed)")
    return "**pass**" if all(c["pass"] for c in hard) else "**FAIL**"


def _figures(result: dict[str, Any]) -> str:
    parts = []
    for figure in result["figures"]:
        unit = f" {figure['unit']}" if figure.get("unit") else ""
        value = figure["value"]
        if isinstance(value, float):
            value = f"{value:,.3f}".rstrip("0").rstrip(".")
        elif isinstance(value, int):
            value = f"{value:,}"
        parts.append(f"{figure['label']}: {value}{unit}")
    return "<br>".join(parts)


def _ratio(result: dict[str, Any]) -> str:
    ratio = result.get("ratio")
    if ratio is None:
        return "—"
    if isinstance(ratio, dict):
        return "<br>".join(f"{name} {value:.3f}" for name, value in ratio.items())
    return f"{ratio:.3f}"


def _targets(result: dict[str, Any]) -> str:
    return "<br>".join(
        f"{check['name']} {check['target']}: {check['value']} {'✔' if check['pass'] else '✘'}"
        for check in result.get("checks", [])
    )


def table(doc: dict[str, Any]) -> str:
    lines = [
        "| # | Measure | Figures (medians) | Ratio | Target: measured | Verdict |",
        "|---|---|---|---|---|---|",
    ]
    for result in doc["measures"]:
        lines.append(
            f"| {result['id']} | {result['title']} | {_figures(result)} | {_ratio(result)} | "
            f"{_targets(result)} | {_verdict(result)} |"
        )
    return "\n".join(lines)


def plot(doc: dict[str, Any]) -> Path | None:
    pull = next((r for r in doc["measures"] if r["id"] == 5), None)
    if pull is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(size) for size in pull["series"])
    p50 = [pull["series"][str(size)]["p50_ms"] for size in sizes]
    p99 = [pull["series"][str(size)]["p99_ms"] for size in sizes]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    axis.plot(sizes, p50, marker="o", label="p50")
    axis.plot(sizes, p99, marker="s", label="p99")
    axis.set_xscale("log")
    axis.set_ylim(bottom=0, top=max(p99) * 1.25)
    axis.set_xlabel("objects in the account (log scale)")
    axis.set_ylabel("latency (ms)")
    axis.set_title("GET /v1/sync/changes — newest 100 changes, 1 connection")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    for size, value in zip(sizes, p50, strict=True):
        axis.annotate(f"{value:.2f}", (size, value), textcoords="offset points", xytext=(0, -14), ha="center")
    figure.tight_layout()
    figure.savefig(PLOT)
    plt.close(figure)
    return PLOT


def write_markdown(doc: dict[str, Any]) -> Path:
    plot(doc)
    m = dict(doc["machine"])
    m["wrk"] = " ".join(str(m.get("wrk", "wrk")).split()[:2])
    scale = doc["scale"]
    passed = sum(1 for r in doc["measures"] if _verdict(r) == "**pass**")
    failed = sum(1 for r in doc["measures"] if _verdict(r) == "**FAIL**")
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    load = ""
    if m.get("load_average_at_end"):
        load = "; load average at the end " + " / ".join(str(v) for v in m["load_average_at_end"])
    text = f"""# Benchmarks

<!-- Generated by `make bench` (bench/report.py) from bench/results/{doc["date"][:10]}.json;
     the analysis below the results comes from bench/analysis.md. Do not edit by hand. -->

`make bench` starts the same throwaway services as `make test` (PostgreSQL primary + streaming
replica, Redis, SeaweedFS S3), runs the app under gunicorn with production settings plus
`exampleapp.settings.bench` (which only adds the baseline views of `bench/urls.py`, next to the
unchanged gateway), seeds data with COPY and measures the API against baselines measured in the
same run on the same machine. A and B runs alternate; figures are medians. Timing is never
asserted in tests; the query budget (measure 4) is also asserted by `tests/bench_contract/`.

- **Date**: {doc["date"]} — mode `{doc["mode"]}`, whole run {doc["elapsed_seconds"] / 60:.1f} min
  (seeding {doc["seed_seconds"]:.0f} s)
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB, Linux {m["kernel"]},
  Python {m["python"]}, PostgreSQL {m["postgresql"]}, {m["wrk"]}
- **App**: {m["gunicorn"]}; load generator, database, Redis and S3 share the same 2 cores{load}
- **Scale**: sync accounts of {", ".join(f"{n:,}" for n in scale["pull_sizes"])} objects;
  upload file {scale["upload_bytes"] / 1024**2:,.0f} MiB; throughput runs {scale["run_seconds"]} s,
  {scale["pairs"]} pairs at {scale["connections"]} connections; push {scale["push_batches"]} batches
  of 100 per run; mixed load {scale["mixed_seconds"]} s at {scale["mixed_connections"]} connections
  over {scale["mixed_users"]} users
- **Result**: {passed} pass, {failed} fail (measure 3 is reported against an aim, 10 has no ratio)

## Results

{table(doc)}

## Pull latency against account size

![p50 and p99 of a pull of the newest 100 changes against the number of objects in the account]({PLOT.name})

Plan of the pull's feed query at the largest account (on the replica):

```
{next((r.get("plan", "") for r in doc["measures"] if r["id"] == 5), "")}
```

{analysis}
"""
    DOC.write_text(text)
    return DOC


def print_result(result: dict[str, Any]) -> None:
    figures = _figures(result).replace("<br>", "; ")
    print(f"\n#{result['id']} {result['title']}\n  {figures}\n  ratio {_ratio(result).replace('<br>', ', ')}")
    for check in result.get("checks", []):
        mark = "ok " if check["pass"] else ("aim" if check.get("aim") else "FAIL")
        print(f"  [{mark}] {check['name']} {check['target']}: {check['value']}")
    print(flush=True)


def print_summary(doc: dict[str, Any]) -> None:
    print("\n== make bench: summary ==")
    for result in doc["measures"]:
        verdict = _verdict(result).replace("*", "")
        ratio = _ratio(result).replace("<br>", ", ")
        print(f"  {result['id']:>2}  {verdict:<22} ratio {ratio:<24} {result['title']}")
    print(flush=True)


def main(argv: list[str]) -> int:
    """`python -m bench.report bench/results/<date>.json`: regenerate docs/benchmarks.md (and
    its plot) from a stored result, e.g. after editing bench/analysis.md."""
    if len(argv) != 1:
        print(main.__doc__)
        return 2
    doc = json.loads(Path(argv[0]).read_text())
    print(write_markdown(doc))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
