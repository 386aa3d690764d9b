"""Small typed readers for environment variables.

Every setting that operators may change comes through one of these, so a bad value fails at
start with a message that names the variable instead of surfacing later as a confusing error.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_origin(name: str) -> str:
    """A web origin, `scheme://host[:port]` (http or https, nothing after the host but an
    optional `/`), returned without the trailing slash; empty when unset. Settings append their
    own path to it, so a path, query or credentials here would be silently mangled: refused."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    refused = ImproperlyConfigured(
        f"{name} must be an origin such as https://cdn.example.com (scheme and host, no path), got {raw!r}"
    )
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  # a port that is not a number raises ValueError here
    except ValueError:
        raise refused from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or raw.endswith(("?", "#"))
    ):
        raise refused
    return f"{parts.scheme}://{parts.netloc}"
