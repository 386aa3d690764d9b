"""The gunicorn worker hook freezes what the worker loaded, so full garbage collections stop
walking Django's ~130,000 long-lived objects (docs/benchmarks.md: the pull p99 it cost)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

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
