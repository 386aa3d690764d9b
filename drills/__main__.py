"""`make drills` (`python -m drills`): start the stack, run every fault drill under load, print the
table, write it into docs/reliability.md, exit non-zero when any figure misses its target.

    python -m drills [--quick] [--only NAME[,NAME]] [--keep] [--no-doc]

QUICK=1 in the environment is the same as --quick.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from scripts.services import log

from . import report
from .results import SIZES, DrillResult, Figure
from .scenarios import DRILLS
from .stack import DrillStack


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK", "") not in ("", "0"))
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(DRILLS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/reliability.md")
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    chosen = [name for name in args.only.split(",") if name] or list(DRILLS)
    unknown = [name for name in chosen if name not in DRILLS]
    if unknown:
        parser.error(f"unknown drills: {', '.join(unknown)}")

    started = time.monotonic()
    stack = DrillStack()
    results: list[DrillResult] = []
    try:
        stack.start()
        for name in chosen:
            log(f"drill {name} ({size.name}) ...")
            begun = time.monotonic()
            try:
                result = DRILLS[name](stack, size)
            except Exception as exc:
                traceback.print_exc()
                result = DrillResult(name, name)
                result.figures.append(Figure("drill completed", 0, "1", False))
                result.notes.append(f"crashed: {exc!r}")
            result.seconds = time.monotonic() - begun
            results.append(result)
            log(f"drill {name}: {'ok' if result.ok else 'MISSED'} in {result.seconds:.0f}s")
    finally:
        stack.stop(keep=args.keep)
    total = time.monotonic() - started
    print()
    print(report.table(results))
    print()
    print(report.notes(results))
    print(f"\n{len(results)} drills in {total:.0f}s ({size.name})")
    if not args.no_doc and not args.only:
        report.write_doc(results, size, total)
        log(f"figures written to {report.DOC}")
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
