"""Per-request context shared by logging, the database router and authentication.

A contextvar (not a thread-local) so it is correct under any worker class. The middleware
opens a fresh context for each request; everything else reads and updates it.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field


@dataclass
class RequestContext:
    request_id: str = "-"
    user_id: str | None = None
    # Set once this request wrote, or once the user is known to be inside the read-your-writes
    # window: from then on reads go to the primary.
    pin_primary: bool = False
    pin_checked: bool = False
    replicas_used: set[str] = field(default_factory=set)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def begin(request_id: str) -> contextvars.Token:
    return _current.set(RequestContext(request_id=request_id))


def end(token: contextvars.Token) -> None:
    _current.reset(token)
