"""What a client claims about the server's state is checked, not believed: a base version the
server never issued is no base for a merge, and a cursor past the newest change is no place in
the feed."""

from __future__ import annotations

import uuid

import pytest

from apps.notes.models import Note
from tests.conftest import Account, assert_problem
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db


def _note(account: Account, **fields: str) -> dict:
    [created] = push(account, op("note", str(uuid.uuid4()), **fields))
    assert created["status"] == "applied"
    return created


def test_an_upsert_with_a_base_version_from_the_future_overwrites_nothing(account: Account) -> None:
    note = _note(account, title="Mine")
    [edited] = push(account, op("note", note["id"], base=1, title="Newer"))
    assert edited["version"] == 2
    [claimed] = push(account, op("note", note["id"], base=999999, title="Blind overwrite"))
    assert claimed["status"] == "rejected"
    assert claimed["code"] == "base_version_ahead"
    assert claimed["version"] == 2
    assert Note.objects.get(id=note["id"]).title == "Newer"


def test_a_delete_with_a_base_version_from_the_future_deletes_nothing(account: Account) -> None:
    note = _note(account, title="Keep me")
    [claimed] = push(account, op("note", note["id"], action="delete", base=7))
    assert (claimed["status"], claimed["code"]) == ("rejected", "base_version_ahead")
    assert Note.objects.get(id=note["id"]).deleted_at is None


@pytest.mark.parametrize("suffix", ["", "f"], ids=["incremental", "full-sync"])
def test_a_cursor_ahead_of_the_feed_must_resync(account: Account, suffix: str) -> None:
    _note(account, title="One")
    page = account.client.get("/v1/sync/changes").json()
    assert page["cursor"] == "1"
    assert account.client.get("/v1/sync/changes", {"cursor": "1"}).status_code == 200
    problem = assert_problem(
        account.client.get("/v1/sync/changes", {"cursor": f"5{suffix}"}), 410, "resync_required"
    )
    assert problem["last_seq"] == 1


def test_a_new_account_accepts_only_the_empty_and_zero_cursors(account: Account) -> None:
    assert account.client.get("/v1/sync/changes", {"cursor": ""}).status_code == 200
    assert account.client.get("/v1/sync/changes", {"cursor": "0"}).status_code == 200
    assert_problem(account.client.get("/v1/sync/changes", {"cursor": "3"}), 410, "resync_required")
