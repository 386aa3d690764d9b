"""Soft delete: tombstones for sync, invisible to the API, removed by `purge_tombstones`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.notes.models import Note, NoteRevision
from tests.conftest import assert_problem
from tests.notes.conftest import create_note, detail, titles

pytestmark = pytest.mark.django_db


def test_delete_leaves_a_tombstone_with_a_new_version(account):
    note = create_note(account, title="bye")
    assert account.client.delete(detail(note["id"]), HTTP_IF_MATCH='"1"').status_code == 204
    tombstone = Note.objects.get(id=note["id"])
    assert tombstone.deleted_at is not None
    assert tombstone.version == 2
    # A tombstone tells the feed that the note is gone; its text goes at once (storage quota).
    assert (tombstone.title, tombstone.body) == ("", "")
    assert not NoteRevision.objects.filter(note_id=note["id"]).exists()


def test_a_tombstone_is_gone_for_every_verb(account):
    note = create_note(account, title="bye")
    url = detail(note["id"])
    account.client.delete(url)
    assert_problem(account.client.get(url), 404, "not_found")
    assert_problem(account.client.patch(url, {"title": "back"}, format="json"), 404, "not_found")
    assert_problem(account.client.put(url, {"title": "back"}, format="json"), 404, "not_found")
    assert_problem(account.client.delete(url), 404, "not_found")
    assert titles(account, archived="all") == []
    assert titles(account, q="bye") == []
    assert Note.objects.get(id=note["id"]).version == 2


def test_purge_removes_old_tombstones_and_their_revisions_only(account):
    old = create_note(account, title="old")
    account.client.patch(detail(old["id"]), {"title": "old 2"}, format="json")
    recent = create_note(account, title="recent")
    live = create_note(account, title="live")
    account.client.delete(detail(old["id"]))
    account.client.delete(detail(recent["id"]))
    Note.objects.filter(id=old["id"]).update(deleted_at=timezone.now() - timedelta(days=31))

    call_command("purge_tombstones")

    assert not Note.objects.filter(id=old["id"]).exists()
    assert not NoteRevision.objects.filter(note_id=old["id"]).exists()
    assert Note.objects.filter(id=recent["id"], deleted_at__isnull=False).exists()
    assert titles(account) == [live["title"]]


def test_purge_window_is_configurable(account, settings):
    note = create_note(account, title="x")
    account.client.delete(detail(note["id"]))
    Note.objects.filter(id=note["id"]).update(deleted_at=timezone.now() - timedelta(days=3))
    call_command("purge_tombstones", days=5)
    assert Note.objects.filter(id=note["id"]).exists()
    settings.TOMBSTONE_RETENTION_DAYS = 2
    call_command("purge_tombstones")
    assert not Note.objects.filter(id=note["id"]).exists()


def test_deleting_the_account_removes_its_notes(account):
    note = create_note(account, title="mine")
    account.client.patch(detail(note["id"]), {"title": "mine 2"}, format="json")
    assert account.client.delete("/v1/users/me").status_code == 204
    assert not Note.objects.filter(id=note["id"]).exists()
    assert not NoteRevision.objects.filter(note_id=note["id"]).exists()
