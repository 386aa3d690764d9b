"""Soft deletes leave tombstones for the sync feed; purge_tombstones removes old ones."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from apps.todos.models import Task, TaskCompletion, TaskList
from tests.conftest import Account, assert_problem

from .conftest import LISTS, TASKS, make_list, make_task


def test_a_deleted_task_is_a_tombstone(account: Account, inbox: dict[str, Any]) -> None:
    task = make_task(account, inbox)
    assert account.client.delete(f"{TASKS}/{task['id']}").status_code == 204
    row = Task.objects.get(id=task["id"])  # the default manager sees tombstones
    assert row.deleted_at is not None
    assert row.version == 2
    for method in ("get", "patch", "put", "delete"):
        assert_problem(getattr(account.client, method)(f"{TASKS}/{task['id']}", {}, format="json"), 404)
    # Its id stays taken: re-creating it is a conflict, not a resurrection.
    again = account.client.post(
        TASKS, {"title": "Task", "list": inbox["id"], "id": task["id"]}, format="json"
    )
    assert_problem(again, 409, "id_conflict")


def test_purge_removes_only_old_tombstones(account: Account, inbox: dict[str, Any]) -> None:
    old_list = make_list(account, name="old")
    old_task = make_task(account, old_list, done=True)  # with a completion record
    make_task(account, old_list, parent=old_task["id"])
    recent = make_task(account, inbox)
    live = make_task(account, inbox)
    assert account.client.delete(f"{LISTS}/{old_list['id']}").status_code == 204
    assert account.client.delete(f"{TASKS}/{recent['id']}").status_code == 204
    long_ago = timezone.now() - timedelta(days=31)
    TaskList.objects.filter(id=old_list["id"]).update(deleted_at=long_ago)
    Task.objects.filter(list_id=old_list["id"]).update(deleted_at=long_ago)

    out = StringIO()
    call_command("purge_tombstones", stdout=out)
    assert not TaskList.objects.filter(id=old_list["id"]).exists()
    assert not Task.objects.filter(list_id=old_list["id"]).exists()
    assert not TaskCompletion.objects.filter(task_id=old_task["id"]).exists()
    assert Task.objects.filter(id=recent["id"]).exists()  # younger than the retention window
    assert Task.objects.filter(id=live["id"], deleted_at__isnull=True).exists()
    assert "todos.Task" in out.getvalue()

    call_command("purge_tombstones", "--days", "0", stdout=StringIO())
    assert not Task.objects.filter(id=recent["id"]).exists()
    assert account.client.get(f"{TASKS}/{live['id']}").status_code == 200
