"""`make bench`: run inside scripts/devservices.py (PostgreSQL primary + replica, Redis, S3).

    python scripts/devservices.py run -- python -m bench.run [--quick] [--sizes 10000,100000,1000000]
        [--upload-mib 1024] [--no-doc] [--only 1,2,...]

Migrates, seeds (COPY), starts gunicorn with production settings + the bench URLconf, runs the
measures (1-10 of issue 7, 11 of issue 12, 12-13 of issue 15, 14 of issue 18), prints the table and writes
bench/results/<date>[-quick].json; the default mode also regenerates docs/benchmarks.md and its
plot.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Measures 1-11 (issues 7 and 12), 12 and 13 (issue 15: edits through push, a pull after an import),
# 14 (issue 18: push -> live event with idle streams open).
ALL_MEASURES = set(range(1, 15))


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def app_environment() -> dict[str, str]:
    """What scripts/stack.sh sets, plus the bench settings module."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "exampleapp.settings.bench",
            "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_ROOT": str(ROOT / "staticfiles"),
            "GUNICORN_WORKERS": env.get("GUNICORN_WORKERS", "2"),
            # Recycling a worker every 2000 requests would restart one every few seconds at
            # these rates (a fresh worker imports Django again): measure the steady state.
            "GUNICORN_MAX_REQUESTS": env.get("GUNICORN_MAX_REQUESTS", "0"),
            "LOG_LEVEL": env.get("LOG_LEVEL", "WARNING"),
            # Measure 11 sends ~60 failed KOReader sign-ins from one address on purpose: the
            # per-address lockout (20) would answer them without evaluating anything.
            "LOGIN_FAILURES_PER_IP": env.get("LOGIN_FAILURES_PER_IP", "100000"),
        }
    )
    return env


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scales, < 3 minutes")
    parser.add_argument("--sizes", help="sync account sizes for measure 5, comma separated")
    parser.add_argument("--upload-mib", type=int, help="size of the upload file (measures 8, 9)")
    parser.add_argument("--only", help="comma list of measure numbers to run")
    parser.add_argument("--no-doc", action="store_true", help="do not regenerate docs/benchmarks.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    env = app_environment()
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )

    import django

    django.setup()
    from scripts.services import Gunicorn

    from . import edits, events, fresh, measures, report, seed

    scale = measures.Scale.quick_mode() if args.quick else measures.Scale.default()
    if args.sizes:
        scale.pull_sizes = sorted(int(size) for size in args.sizes.split(","))
        scale.pull_base = scale.pull_sizes[0] if 10_000 not in scale.pull_sizes else 10_000
    if args.upload_mib:
        scale.upload_bytes = args.upload_mib * measures.MIB
    only = {int(n) for n in args.only.split(",")} if args.only else ALL_MEASURES

    workdir = measures.make_workdir()
    app = Gunicorn(env, workdir / "gunicorn.log")
    results: list[dict[str, Any]] = []
    seed_seconds = 0.0
    try:
        log(f"seeding (sync accounts {', '.join(f'{n:,}' for n in scale.pull_sizes)})")
        seed_started = time.monotonic()
        reader = seed.make_user("reader")
        seed.add_tasks(reader, 200)
        seed.add_notes(reader, 200)
        pullers = {}
        for size in scale.pull_sizes:
            user = seed.make_user(f"sync{size}")
            seed.add_notes(user, size)
            pullers[size] = user
        pusher = seed.make_user("push")
        uploader = seed.make_user("upload")
        mixed = []
        for index in range(scale.mixed_users):
            user = seed.make_user(f"mixed{index}")
            seed.add_tasks(user, 30)
            seed.add_notes(user, 30)
            mixed.append(user)
        seed.analyze()
        from scripts.services import Postgres

        Postgres.from_env().wait_replica_caught_up(timeout=600)
        seed_seconds = time.monotonic() - seed_started
        log(f"seeded in {seed_seconds:.0f}s; starting gunicorn")
        app.start(workers=int(env.get("GUNICORN_WORKERS", "2")))
        ctx = measures.Context(
            app=app,
            scale=scale,
            workdir=workdir,
            reader=reader,
            pullers=pullers,
            pusher=pusher,
            uploader=uploader,
            mixed=mixed,
        )
        steps: list[tuple[int, Any]] = [
            (4, measures.measure_queries),
            (1, measures.measure_list),
            (2, measures.measure_detail),
            (3, measures.measure_auth),
            (5, measures.measure_pull_latency),
            (7, measures.measure_full_pull),
            (6, measures.measure_push),
            (10, measures.measure_mixed),
            (11, measures.measure_timing_parity),
            (12, edits.measure_edits),
            (13, fresh.measure_fresh_pull),
            (14, events.measure_live_events),
        ]
        for number, step in steps:
            if number in only:
                log(f"measure {number}")
                results.append(step(ctx))
                report.print_result(results[-1])
        if only & {8, 9}:
            payload = measures._payload(ctx)
            log(f"measure 8 ({payload.size / measures.MIB:,.0f} MiB file)")
            results.append(measures.measure_streamed_upload(ctx, payload))
            report.print_result(results[-1])
            if 9 in only:
                log("measure 9")
                results.append(measures.measure_direct_upload(ctx, payload))
                report.print_result(results[-1])
    finally:
        app.stop()
        if os.environ.get("BENCH_KEEP"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results.sort(key=lambda result: result["id"])
    elapsed = time.monotonic() - started
    document = report.document(
        results,
        mode="quick" if scale.quick else "default",
        scale=scale,
        seed_seconds=seed_seconds,
        elapsed=elapsed,
        date=datetime.now(UTC),
    )
    # A run of some measures gets a file of its own: it never replaces the day's full record.
    partial = "" if only == ALL_MEASURES else "-only-" + "-".join(str(n) for n in sorted(only))
    path = report.write_json(document, suffix=partial)
    log(f"results: {path.relative_to(ROOT)}")
    if not scale.quick and not args.no_doc and only == ALL_MEASURES:
        doc = report.write_markdown(document)
        log(f"regenerated {doc.relative_to(ROOT)}")
    report.print_summary(document)
    log(f"done in {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
