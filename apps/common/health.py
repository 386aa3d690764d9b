"""Probes. /healthz: the process answers (no I/O). /readyz: can this pod serve traffic?

Readiness fails (503) only when the primary database is unreachable: without it nothing works.
The cache and storage are checked and reported too, but a Redis or S3 outage does not take the
pod out of the load balancer — the app degrades around them (DESIGN §2), and failing readiness
on every pod at once would turn a partial outage into a total one. `?strict=1` makes every
dependency count, for deploy-time smoke checks.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return exc.__class__.__name__
    return None


def _check_cache() -> str | None:
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        client = getattr(cache, "client", None)
        if client is not None:  # django-redis swallows errors on the cache API: ask Redis itself
            client.get_client(write=True).ping()
            return None
        cache.set(key, "1", 5)
        return None if cache.get(key) == "1" else "cache did not keep a value"
    except Exception as exc:
        return exc.__class__.__name__


def _check_storage() -> str | None:
    try:
        default_storage.exists("readyz-probe")
    except Exception as exc:
        return exc.__class__.__name__
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {}
    failed = {}
    for name, check in (("database", _check_database), ("cache", _check_cache), ("storage", _check_storage)):
        started = time.monotonic()
        problem = check()
        # The answer is public (the ingress routes it): it says that a dependency failed, the
        # log says how (exception names are internals).
        checks[name] = {
            "ok": problem is None,
            "ms": round((time.monotonic() - started) * 1000, 1),
            **({"error": "unavailable"} if problem else {}),
        }
        if problem:
            failed[name] = problem
    strict = request.GET.get("strict") in ("1", "true")
    ready = "database" not in failed and (not strict or not failed)
    if failed:
        logger.warning("readiness: %s", failed)
    body = {"status": "ok" if not failed else ("degraded" if ready else "unavailable"), "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
