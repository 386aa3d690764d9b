"""The staff admin for notes and revisions: lists with search and filters, read-only pages,
and a soft delete that goes through the service."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.identity.models import User
from apps.notes.models import Note
from tests.notes.conftest import create_note, detail

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_account):
    staff = make_account()
    User.objects.filter(id=staff.id).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(id=staff.id))
    return client


@pytest.fixture
def some_notes(account):
    first = create_note(account, title="Shopping list", body="eggs", pinned=True)
    account.client.patch(detail(first["id"]), {"body": "eggs and milk"}, format="json")
    second = create_note(account, title="Archived thing", archived=True)
    return first, second


@pytest.mark.parametrize(
    "path",
    [
        "/admin/notes/note/",
        "/admin/notes/note/?q=shopping",
        "/admin/notes/note/?pinned__exact=1",
        "/admin/notes/note/?archived__exact=1",
        "/admin/notes/note/?state=deleted",
        "/admin/notes/note/?state=live",
        "/admin/notes/noterevision/",
        "/admin/notes/noterevision/?q=shopping",
        "/admin/notes/noterevision/?reason__exact=edit",
    ],
)
def test_changelists_with_search_and_filters(admin_client, some_notes, path):
    response = admin_client.get(path)
    assert response.status_code == 200


def test_search_by_owner_email_finds_the_notes(admin_client, account, some_notes):
    response = admin_client.get("/admin/notes/note/", {"q": account.email})
    assert b"Shopping list" in response.content
    assert b"Archived thing" in response.content


def test_change_pages_are_read_only(admin_client, some_notes):
    first, _ = some_notes
    page = admin_client.get(f"/admin/notes/note/{first['id']}/change/")
    assert page.status_code == 200
    assert b"eggs and milk" in page.content
    assert b'name="title"' not in page.content
    revision = Note.objects.get(id=first["id"]).revisions.get()
    assert admin_client.get(f"/admin/notes/noterevision/{revision.pk}/change/").status_code == 200
    assert admin_client.get("/admin/notes/note/add/").status_code == 403


def test_delete_action_soft_deletes_through_the_service(admin_client, account, some_notes):
    first, _ = some_notes
    response = admin_client.post(
        "/admin/notes/note/", {"action": "delete_notes", "_selected_action": [first["id"]]}
    )
    assert response.status_code == 302
    note = Note.objects.get(id=first["id"])
    assert note.deleted_at is not None
    assert note.version == 3
    assert account.client.get(detail(first["id"])).status_code == 404
