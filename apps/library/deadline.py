"""A CPU-time limit for parsing untrusted files (pypdf, zipfile, Pillow run on what users send).

A crafted PDF or EPUB can make a parser spin; without a limit it holds a worker until gunicorn's
timeout kills it, and a few such uploads take a pod's workers away. `cpu_deadline` arms a
process CPU-time timer (ITIMER_VIRTUAL, so slow storage reads do not count) whose signal raises
`DeadlineExceeded` in the parsing code. It derives from BaseException on purpose: the parsers
wrap their work in broad `except Exception` blocks that would otherwise swallow it and return a
verdict of their own.

Signals reach the main thread only. gunicorn's sync workers serve every request on their main
thread, so production is covered; elsewhere (the development server's request threads) the
limit is not armed and parsing runs unbounded, as before.

Python swallows an exception raised while it runs a garbage-collector callback or a `__del__`
("Exception ignored in ..."): a signal landing there would be lost and the parser would run on
unbounded. So the timer repeats (every REPEAT_SECONDS of CPU) until the block ends, and the
block's end raises DeadlineExceeded itself if the time ran out but nothing propagated.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

REPEAT_SECONDS = 0.05


class DeadlineExceeded(BaseException):
    """The CPU-time limit ran out inside the guarded block."""


class _Expiry:
    fired = False


_expiry = _Expiry()


def _expired(signum: int, frame: FrameType | None) -> None:
    _expiry.fired = True
    raise DeadlineExceeded


def armable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def cpu_deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded once the block has used `seconds` of CPU time (see above)."""
    if seconds <= 0 or not armable():
        yield
        return
    previous = signal.signal(signal.SIGVTALRM, _expired)
    _expiry.fired = False
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds, REPEAT_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
    if _expiry.fired:  # the time ran out, but each raise was swallowed on the way (see above)
        raise DeadlineExceeded
