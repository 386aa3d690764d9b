"""gunicorn settings. Workers follow the container's CPU quota (cgroup), not the host's cores:
a pod limited to 2 CPUs on a 64-core node must not fork 129 workers."""

from __future__ import annotations

import math
import os
from pathlib import Path


def cpu_quota() -> float | None:
    """CPUs granted by the cgroup (v2 `cpu.max`, else v1 quota/period); None when unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 else None
    except (OSError, ValueError):
        return None


def default_workers() -> int:
    cpus = cpu_quota() or len(os.sched_getaffinity(0))
    # Sync workers, one per CPU (measured best on 2 cores: more workers fought PostgreSQL
    # and the load generator for the same cores), at least 2 so one slow request never
    # blocks the pod.
    return max(2, math.ceil(cpus))


# The app's port, and the metrics port when METRICS_PORT is set (the manifests set 9100):
# apps/common/middleware.MetricsPortMiddleware serves /metrics there and only there.
_METRICS_PORT = int(os.environ.get("METRICS_PORT") or 0)
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"] + ([f"0.0.0.0:{_METRICS_PORT}"] if _METRICS_PORT else [])
workers = int(os.environ.get("GUNICORN_WORKERS", default_workers()))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Longer than the ingress' idle timeout so the proxy, not gunicorn, closes idle connections.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Load the app once in the master and fork the workers from it: the code, Django's and DRF's
# import-time objects and the resolved URLconf are then shared copy-on-write instead of being
# built again in every worker (figures: docs/benchmarks.md, memory). A recycled worker
# (max_requests) is a fork too, not a new import. Nothing may open a connection or start a
# thread at import time: it would be shared by, or lost to, every worker (when_ready below
# closes the database connections all the same).
preload_app = os.environ.get("GUNICORN_PRELOAD_APP", "true").lower() not in ("0", "false", "no", "off")
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Heartbeat files on memory, not on a (possibly read-only or slow) container disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's own advice for heartbeat files
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _SHM if Path(_SHM).is_dir() else None)
accesslog = "-"
errorlog = "-"
access_log_format = (
    '{"time": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "method": "%(m)s", '
    '"path": "%(U)s", "query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", '
    '"duration_ms": %(M)s, "request_id": "%({x-request-id}o)s", "remote": "%(h)s", '
    '"user_agent": "%(a)s"}'
)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _load_and_freeze() -> None:
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import side effect is the point
    gc.collect()
    gc.freeze()


def when_ready(server: object) -> None:
    """With preload_app, in the master before the first fork: resolve the URLconf (importing
    every view and serializer) there, and freeze it, so the workers inherit all of it and
    their garbage collections never write to those pages (which would copy them). No database
    connection may cross the fork. What the first request would import lazily is imported here
    too: the cache backend with its Redis client (~60 modules of redis-py; the backend object
    connects only when first used) and simplejwt's token backend (PyJWT)."""
    if not preload_app:
        return
    import rest_framework_simplejwt.state  # noqa: F401 - imported for the fork
    from django.core.cache import caches
    from django.db import connections

    caches["default"]  # builds the backend: imports its client classes
    connections.close_all()
    _load_and_freeze()


def post_worker_init(worker: object) -> None:
    """Freeze what the worker loaded before its first request, so the garbage collector stops
    scanning it. Django, DRF, the URLconf with every view and serializer, and the schema
    machinery are the bulk of the tracked objects and live as long as the worker; without this
    every full (generation 2) collection walks all of them, and the request it lands on is the
    p99 (figures: docs/benchmarks.md). Resolving the URLconf first
    imports the views, which Django would otherwise do lazily on the first request. With
    preload_app the master did both already; this freezes what the worker added."""
    _load_and_freeze()
