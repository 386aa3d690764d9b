"""Revisions: what is kept, listing and reading them, restoring, the bound, and who may see them."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from apps.notes import services
from apps.notes.models import Note, NoteRevision
from tests.conftest import assert_problem
from tests.notes.conftest import create_note, detail

pytestmark = pytest.mark.django_db


def revisions_url(note_id, *rest):
    return "/".join([detail(note_id), "revisions", *map(str, rest)])


def revisions(account, note_id, **params):
    response = account.client.get(revisions_url(note_id), params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_changing_title_or_body_keeps_the_previous_text(account):
    note = create_note(account, title="v1 title", body="v1 body")
    url = detail(note["id"])
    assert revisions(account, note["id"]) == []
    account.client.patch(url, {"title": "v2 title"}, format="json")
    account.client.patch(url, {"body": "v3 body"}, format="json")
    listed = revisions(account, note["id"])
    assert [(r["number"], r["title"], r["body_preview"], r["note_version"], r["reason"]) for r in listed] == [
        (2, "v2 title", "v1 body", 2, "edit"),
        (1, "v1 title", "v1 body", 1, "edit"),
    ]
    assert listed[0].keys() == {"number", "title", "body_preview", "note_version", "reason", "created_at"}


def test_other_changes_keep_no_revision(account):
    note = create_note(account, title="t", body="b")
    url = detail(note["id"])
    account.client.patch(url, {"pinned": True, "archived": True, "tags": ["x"]}, format="json")
    account.client.patch(url, {"title": "t", "body": "b"}, format="json")  # same text: no change
    assert revisions(account, note["id"]) == []


def test_reading_a_revision_gives_its_whole_body(account):
    body = "line\n" * 100
    note = create_note(account, title="t", body=body)
    account.client.patch(detail(note["id"]), {"body": "short"}, format="json")
    assert len(revisions(account, note["id"])[0]["body_preview"]) == 200
    response = account.client.get(revisions_url(note["id"], 1))
    assert response.status_code == 200
    assert response.json() | {"created_at": None} == {
        "number": 1,
        "title": "t",
        "body": body,
        "note_version": 1,
        "reason": "edit",
        "created_at": None,
    }
    assert "ETag" not in response


def test_restore_brings_the_text_back_as_a_new_version(account):
    note = create_note(account, title="first", body="first body", tags=["keep"], pinned=True)
    url = detail(note["id"])
    account.client.patch(url, {"title": "second", "body": "second body"}, format="json")
    restored = account.client.post(revisions_url(note["id"], 1, "restore"))
    assert restored.status_code == 200, restored.content
    assert restored["ETag"] == '"3"'
    body = restored.json()
    assert (body["title"], body["body"], body["version"]) == ("first", "first body", 3)
    assert (body["tags"], body["pinned"]) == (["keep"], True)
    assert account.client.get(url).json() == body
    # The text it replaced is a revision now, so the restore can be undone.
    newest = revisions(account, note["id"])[0]
    assert (newest["number"], newest["title"], newest["note_version"], newest["reason"]) == (
        2,
        "second",
        2,
        "restore",
    )
    undone = account.client.post(revisions_url(note["id"], 2, "restore")).json()
    assert (undone["title"], undone["body"], undone["version"]) == ("second", "second body", 4)


def test_restoring_the_current_text_changes_nothing(account):
    note = create_note(account, title="a")
    url = detail(note["id"])
    account.client.patch(url, {"title": "b"}, format="json")
    account.client.patch(url, {"title": "a"}, format="json")
    response = account.client.post(revisions_url(note["id"], 2, "restore"))  # revision 2 is "b"
    assert response.json()["version"] == 4
    again = account.client.post(revisions_url(note["id"], 2, "restore"))
    assert again.json()["version"] == 4
    assert len(revisions(account, note["id"])) == 3


def test_restore_honours_if_match(account):
    note = create_note(account, title="one")
    url = detail(note["id"])
    account.client.patch(url, {"title": "two"}, format="json")
    restore = revisions_url(note["id"], 1, "restore")
    stale = account.client.post(restore, HTTP_IF_MATCH='"1"')
    body = assert_problem(stale, 412, "precondition_failed")
    assert body["current_version"] == 2
    assert account.client.get(url).json()["title"] == "two"
    assert len(revisions(account, note["id"])) == 1
    ok = account.client.post(restore, HTTP_IF_MATCH='"2"')
    assert ok.status_code == 200
    assert ok.json()["title"] == "one"


def test_only_the_newest_revisions_are_kept(account, settings):
    settings.NOTE_REVISIONS_KEPT = 3
    note = create_note(account, title="t0")
    for index in range(1, 7):
        account.client.patch(detail(note["id"]), {"title": f"t{index}"}, format="json")
    kept = revisions(account, note["id"])
    assert [(r["number"], r["title"]) for r in kept] == [(6, "t5"), (5, "t4"), (4, "t3")]
    assert NoteRevision.objects.filter(note_id=note["id"]).count() == 3
    assert_problem(account.client.get(revisions_url(note["id"], 1)), 404, "not_found")
    assert_problem(account.client.post(revisions_url(note["id"], 3, "restore")), 404, "not_found")
    # Restoring counts as a change too: the bound still holds, numbers keep growing.
    account.client.post(revisions_url(note["id"], 4, "restore"))
    assert [r["number"] for r in revisions(account, note["id"])] == [7, 6, 5]


def test_revisions_are_paginated_newest_first(account):
    note = create_note(account, title="r0")
    for index in range(1, 6):
        account.client.patch(detail(note["id"]), {"title": f"r{index}"}, format="json")
    seen = []
    response = account.client.get(revisions_url(note["id"]), {"limit": 2})
    while True:
        page = response.json()
        seen.extend(r["number"] for r in page["results"])
        if not page["next"]:
            break
        response = account.client.get(page["next"])
    assert seen == [5, 4, 3, 2, 1]


def test_revisions_of_another_users_note_are_404(account, other_account):
    note = create_note(account, title="mine")
    account.client.patch(detail(note["id"]), {"title": "mine 2"}, format="json")
    thief = other_account.client
    assert_problem(thief.get(revisions_url(note["id"])), 404, "not_found")
    assert_problem(thief.get(revisions_url(note["id"], 1)), 404, "not_found")
    assert_problem(thief.post(revisions_url(note["id"], 1, "restore")), 404, "not_found")
    assert account.client.get(detail(note["id"])).json()["title"] == "mine 2"


def test_revisions_of_a_deleted_note_are_404(account):
    note = create_note(account, title="a")
    account.client.patch(detail(note["id"]), {"title": "b"}, format="json")
    account.client.delete(detail(note["id"]))
    assert_problem(account.client.get(revisions_url(note["id"])), 404)
    assert_problem(account.client.get(revisions_url(note["id"], 1)), 404)
    assert_problem(account.client.post(revisions_url(note["id"], 1, "restore")), 404)


@pytest.mark.parametrize("number", ["0", "999", "99999999999999999999999", "-1", "x"])
def test_missing_revisions_are_404(account, number):
    note = create_note(account, title="a")
    account.client.patch(detail(note["id"]), {"title": "b"}, format="json")
    assert_problem(account.client.get(revisions_url(note["id"], number)), 404)
    assert_problem(account.client.post(revisions_url(note["id"], number, "restore")), 404)


def test_revisions_of_an_unknown_note_are_404(account):
    assert_problem(account.client.get(revisions_url(uuid.uuid4())), 404, "not_found")


def test_anonymous_cannot_see_revisions(api, account):
    note = create_note(account, title="a")
    assert_problem(api.get(revisions_url(note["id"])), 401)
    assert_problem(api.post(revisions_url(note["id"], 1, "restore")), 401)


def test_revision_create_keeps_a_text_that_never_was_the_notes(account):
    """What sync does with a note body that lost a conflict: no edit is ever lost."""
    note = create_note(account, title="server", body="server text")
    with transaction.atomic():
        locked = services.note_lock(note_id=uuid.UUID(note["id"]), owner_id=uuid.UUID(account.id))
        services.revision_create(
            note=locked, title="server", body="client text", reason=NoteRevision.Reason.CONFLICT
        )
    kept = account.client.get(revisions_url(note["id"], 1)).json()
    assert (kept["body"], kept["reason"], kept["note_version"]) == ("client text", "conflict", None)
    unchanged = Note.objects.get(id=note["id"])
    assert (unchanged.version, unchanged.body) == (1, "server text")
    restored = account.client.post(revisions_url(note["id"], 1, "restore")).json()
    assert (restored["body"], restored["version"]) == ("client text", 2)


def test_a_note_over_a_lowered_cap_can_still_be_edited_down(account, settings):
    note = create_note(account, title="big", body="b" * 5000)
    settings.NOTE_BODY_MAX_BYTES = 1024
    shrunk = account.client.patch(detail(note["id"]), {"body": "small"}, format="json")
    assert shrunk.status_code == 200, shrunk.content
    assert len(account.client.get(revisions_url(note["id"], 1)).json()["body"]) == 5000
    # Bringing the big text back is a write of it: the cap applies.
    assert_problem(account.client.post(revisions_url(note["id"], 1, "restore")), 413, "note_too_large")


def test_revision_create_applies_the_cap_to_foreign_text(account, settings):
    settings.NOTE_BODY_MAX_BYTES = 1024
    note = create_note(account, title="n")
    with transaction.atomic():
        locked = services.note_lock(note_id=uuid.UUID(note["id"]), owner_id=uuid.UUID(account.id))
        with pytest.raises(services.NoteTooLarge):
            services.revision_create(
                note=locked, title="n", body="x" * 1025, reason=NoteRevision.Reason.CONFLICT
            )
