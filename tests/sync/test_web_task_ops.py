"""The pushes the web client makes for its bulk task actions and list moves (web/src/sync/tasks.ts,
docs/web.md "Bulk actions"): per-task ops that must end as the bulk endpoint would, and the
server answers to them the client relies on."""

from __future__ import annotations

import uuid

import pytest

from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_bulk_move_ops_a_sub_task_follows_its_parent_quietly(account):
    home, work, parent, sub = _ids(4)
    push(
        account,
        op("tasklist", home, name="Home"),
        op("tasklist", work, name="Work"),
        op("task", parent, list=home, title="Post letter"),
        op("task", sub, list=home, parent=parent, title="Envelope"),
    )
    moved, follow = push(
        account,
        op("task", parent, base=1, list=work),
        op("task", sub, base=1, list=work, parent=parent),
    )
    assert moved["status"] == "applied"
    assert moved["data"]["list"] == work
    # The server moved the sub-task with its parent: the client's op changes nothing and
    # reports no conflict (the web client keeps such a result quietly).
    assert follow["status"] == "merged"
    assert follow["data"]["list"] == work
    assert follow["data"]["parent"] == parent
    assert not follow.get("conflicts")


def test_bulk_move_ops_refused_together(account):
    home, parent, sub = _ids(3)
    gone = str(uuid.uuid4())  # a target list the server does not know (deleted elsewhere)
    push(
        account,
        op("tasklist", home, name="Home"),
        op("task", parent, list=home, title="P"),
        op("task", sub, list=home, parent=parent, title="S"),
    )
    moved, follow = push(
        account,
        op("task", parent, base=1, list=gone),
        op("task", sub, base=1, list=gone, parent=parent),
    )
    # Both refused: the client puts both rows back to the server's state.
    assert moved["status"] == "rejected"
    assert follow["status"] == "rejected"
    assert account.client.get(f"/v1/todos/{sub}").json()["list"] == home


def test_bulk_delete_ops_a_sub_task_after_its_parent_is_applied(account):
    home, parent, sub = _ids(3)
    push(
        account,
        op("tasklist", home, name="Home"),
        op("task", parent, list=home, title="P"),
        op("task", sub, list=home, parent=parent, title="S"),
    )
    deleted, already = push(
        account,
        op("task", parent, action="delete", base=1),
        op("task", sub, action="delete", base=1),
    )
    assert deleted["status"] == "applied"
    assert already["status"] == "applied"  # deleted with its parent: nothing to report
    assert account.client.get(f"/v1/todos/{sub}").status_code == 404


def test_a_list_placed_among_lists_created_before_it_in_the_same_push(account):
    errands, home, work = _ids(3)
    results = push(
        account,
        op("tasklist", errands, name="Errands"),
        op("tasklist", home, name="Home"),
        op("tasklist", work, name="Work", after=errands, before=home),
    )
    assert [r["status"] for r in results] == ["applied"] * 3
    lists = account.client.get("/v1/todos/lists").json()["results"]
    assert [item["name"] for item in sorted(lists, key=lambda item: (item["position"], item["id"]))] == [
        "Errands",
        "Work",
        "Home",
    ]
