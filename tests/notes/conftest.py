"""Helpers for the notes tests: create notes through the API like a client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Account

URL = "/v1/notes"


def detail(note_id: str) -> str:
    return f"{URL}/{note_id}"


def create_note(account: Account, **fields: Any) -> dict[str, Any]:
    response = account.client.post(URL, fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def listed(account: Account, **params: Any) -> list[dict[str, Any]]:
    response = account.client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def titles(account: Account, **params: Any) -> list[str]:
    return [note["title"] for note in listed(account, **params)]


@pytest.fixture
def note_factory() -> Callable[..., dict[str, Any]]:
    return create_note
