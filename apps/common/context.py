"""Per-request context shared by logging, the database router and authentication.

A contextvar (not a thread-local) so it is correct under any worker class. The middleware
opens a fresh context for each request; everything else reads and updates it.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class RequestContext:
    request_id: str = "-"
    user_id: str | None = None
    # Set once this request wrote, or once the user is known to be inside the read-your-writes
    # window: from then on reads go to the primary.
    pin_primary: bool = False
    pin_checked: bool = False
    replicas_used: set[str] = field(default_factory=set)
    # Work to do once the response has been sent (see after_response).
    deferred: list[Callable[[], object]] = field(default_factory=list)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def begin(request_id: str) -> contextvars.Token:
    return _current.set(RequestContext(request_id=request_id))


def end(token: contextvars.Token) -> None:
    _current.reset(token)


def after_response(work: Callable[[], object]) -> None:
    """Do `work` once the response has been sent: the client does not wait for it and the
    answer's timing does not depend on it (e.g. mail that must not reveal, by taking longer,
    which of two look-alike answers was given). Outside a request it runs at once. Failures
    are logged, never raised: the response is gone by then."""
    ctx = current()
    if ctx is None:
        run_logged(work)
    else:
        ctx.deferred.append(work)


def run_logged(work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:
        logger.exception("work deferred until after the response failed")
