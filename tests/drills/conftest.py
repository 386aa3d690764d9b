"""The drill stack for tests/drills: its own throwaway services and gunicorn (the drills kill
them), started once for the module and stopped whatever happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills.stack import DrillStack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drills: fault drills against their own stack under a small load (tests/drills)"
    )


@pytest.fixture(scope="session")
def drill_stack() -> Iterator[DrillStack]:
    stack = DrillStack()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
