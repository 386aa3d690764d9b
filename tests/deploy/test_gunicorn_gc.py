"""The gunicorn hooks: the master loads and freezes the app before forking (preload_app), and each
worker freezes what it loaded, so full garbage collections stop walking Django's ~130,000
long-lived objects (docs/benchmarks.md: the pull p99 it cost) and the workers share those pages."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "exampleapp" / "gunicorn.conf.py"


def test_post_worker_init_freezes_the_loaded_objects() -> None:
    hook = runpy.run_path(str(CONF))["post_worker_init"]
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    walked_before = len(gc.get_objects())  # what a full collection walks
    try:
        hook(None)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        # The frozen objects left the generations a collection walks.
        assert len(gc.get_objects()) < walked_before - frozen // 2
    finally:
        gc.unfreeze()


@pytest.mark.django_db(transaction=True)  # outside a test transaction, close() really closes
def test_the_master_preloads_the_app_and_freezes_it_before_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """preload_app: the workers are forked from a master that loaded and froze the app, so they
    share its pages (docs/benchmarks.md, memory); no database connection crosses the fork."""
    from django.db import connections

    conf = runpy.run_path(str(CONF))
    assert conf["preload_app"] is True
    connections["default"].ensure_connection()
    gc.unfreeze()
    try:
        conf["when_ready"](None)
        assert gc.get_freeze_count() > 0
        assert all(connection.connection is None for connection in connections.all(initialized_only=True))
    finally:
        gc.unfreeze()
    monkeypatch.setenv("GUNICORN_PRELOAD_APP", "false")
    assert runpy.run_path(str(CONF))["preload_app"] is False
