"""Pulling the change feed: order, one entry per object, tombstones, paging, filters, 410."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.common import db
from apps.sync.feed import ChangeSpec, changes_record
from apps.sync.models import Change
from apps.sync.selectors import FEED_PAGE_SQL
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _note(account, **fields):
    response = account.client.post("/v1/notes", {"title": "t", **fields}, format="json")
    assert response.status_code == 201
    return response.json()


def _pull(account, **params):
    response = account.client.get("/v1/sync/changes", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_full_sync_returns_each_object_once_with_latest_state(account):
    a = _note(account, title="a")
    b = _note(account, title="b")
    account.client.patch(f"/v1/notes/{a['id']}", {"title": "a2"}, format="json")
    body = _pull(account)
    assert body["has_more"] is False
    assert [c["id"] for c in body["changes"]] == [b["id"], a["id"]]  # a moved behind b
    seqs = [c["seq"] for c in body["changes"]]
    assert seqs == sorted(seqs)
    latest = body["changes"][1]
    assert latest["op"] == "upsert"
    assert latest["version"] == 2
    assert latest["data"] == account.client.get(f"/v1/notes/{a['id']}").json()
    assert body["cursor"] == str(seqs[-1])


def test_incremental_pull_and_tombstones(account):
    a = _note(account)
    cursor = _pull(account)["cursor"]
    assert _pull(account, cursor=cursor)["changes"] == []
    assert account.client.delete(f"/v1/notes/{a['id']}").status_code == 204
    changes = _pull(account, cursor=cursor)["changes"]
    assert len(changes) == 1
    assert changes[0]["op"] == "delete"
    assert changes[0]["id"] == a["id"]
    assert changes[0]["data"] is None
    assert changes[0]["version"] == 2


def test_paging_with_has_more(account):
    made = [_note(account, title=str(i))["id"] for i in range(5)]
    seen, cursor = [], ""
    while True:
        body = _pull(account, cursor=cursor, limit=2)
        seen += [c["id"] for c in body["changes"]]
        cursor = body["cursor"]
        if not body["has_more"]:
            break
        assert len(body["changes"]) == 2
    assert seen == made


def test_types_filter_and_validation(account):
    _note(account)
    assert len(_pull(account, types="note")["changes"]) == 1
    assert_problem(account.client.get("/v1/sync/changes", {"types": "spaceship"}), 400, "validation_error")
    assert_problem(account.client.get("/v1/sync/changes", {"cursor": "abc"}), 400, "validation_error")
    assert_problem(account.client.get("/v1/sync/changes", {"cursor": "-4"}), 400, "validation_error")
    assert_problem(account.client.get("/v1/sync/changes", {"limit": "0"}), 400, "validation_error")


def test_limit_is_clamped(account, settings):
    settings.SYNC_PULL_MAX_LIMIT = 2
    for _ in range(3):
        _note(account)
    body = _pull(account, limit=500)
    assert len(body["changes"]) == 2
    assert body["has_more"] is True


def test_feed_is_per_user(account, other_account):
    _note(account)
    assert _pull(other_account)["changes"] == []


def test_anonymous_is_401(api):
    assert_problem(api.get("/v1/sync/changes"), 401)
    assert_problem(api.post("/v1/sync/push", {"ops": []}, format="json"), 401)


def test_cursor_older_than_retention_is_410_after_purge(account, settings):
    a = _note(account)
    old_cursor = _pull(account)["cursor"]
    b = _note(account)
    account.client.delete(f"/v1/notes/{b['id']}")
    Change.objects.filter(object_id=b["id"]).update(changed_at=timezone.now() - timedelta(days=40))
    call_command("purge_tombstones", days=30, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_problem(account.client.get("/v1/sync/changes", {"cursor": old_cursor}), 410, "resync_required")
    # A full sync still works, and a fresh cursor is fine again.
    full = _pull(account)
    assert [c["id"] for c in full["changes"]] == [a["id"]]
    assert _pull(account, cursor=full["cursor"])["changes"] == []


def test_pull_query_uses_the_owner_seq_index(account, other_account):
    """With a realistic amount of feed (two users, 4,000 entries each, statistics fresh) the
    pull is an index range scan on (owner, seq), already in answer order: no sort, no scan of
    the account."""
    for who in (account, other_account):
        specs = [ChangeSpec("note", uuid.uuid4(), 1) for _ in range(4000)]
        changes_record(owner_id=uuid.UUID(who.id), changes=specs)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sync_change")
    with db.bound_cursor("default") as cursor:  # the app's own query, as the pull sends it
        cursor.execute(
            "EXPLAIN " + FEED_PAGE_SQL.format(types=""),
            {"owner": uuid.UUID(account.id), "after": 3000, "limit": 101, "types": []},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "change_owner_seq" in plan, plan
    assert "Sort" not in plan, plan


def test_pull_queries_do_not_grow_with_page(account, django_assert_max_num_queries):
    for _ in range(6):
        _note(account)
    _pull(account)
    for limit in (1, 6):
        with django_assert_max_num_queries(4):  # floor check + feed page + notes + their file links
            assert len(_pull(account, limit=limit, cursor="0")["changes"]) == limit
