"""Notes link the owner's library files: validated, shown while the file exists, merged by sync."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import assert_problem
from tests.library import factories
from tests.library.conftest import upload
from tests.sync.helpers import op, push

pytestmark = pytest.mark.django_db


def _file(account) -> str:
    response = upload(account.client, factories.pdf_bytes(title=str(uuid.uuid4())), "f.pdf")
    assert response.status_code == 201
    return response.json()["id"]


def test_links_are_stored_sorted_and_shown(account):
    a, b = _file(account), _file(account)
    note = account.client.post("/v1/notes", {"title": "t", "files": [b, a, b]}, format="json")
    assert note.status_code == 201
    assert note.json()["files"] == sorted([a, b])
    assert account.client.get(f"/v1/notes/{note.json()['id']}").json()["files"] == sorted([a, b])
    listed = account.client.get("/v1/notes").json()["results"][0]
    assert listed["files"] == sorted([a, b])


def test_another_users_or_unknown_file_is_refused(account, other_account):
    theirs = _file(other_account)
    for bad in (theirs, str(uuid.uuid4())):
        body = assert_problem(account.client.post("/v1/notes", {"files": [bad]}, format="json"), 400)
        assert "files" in body["errors"]
        assert "other" not in str(body["errors"]).lower()
    assert account.client.get("/v1/notes").json()["results"] == []


def test_patch_changes_links_and_bumps_version(account):
    a, b = _file(account), _file(account)
    note = account.client.post("/v1/notes", {"files": [a]}, format="json").json()
    patched = account.client.patch(f"/v1/notes/{note['id']}", {"files": [b]}, format="json").json()
    assert patched["files"] == [b]
    assert patched["version"] == 2
    same = account.client.patch(f"/v1/notes/{note['id']}", {"files": [b]}, format="json").json()
    assert same["version"] == 2  # no change, no new version


def test_deleted_file_disappears_from_links(account):
    a, b = _file(account), _file(account)
    note = account.client.post("/v1/notes", {"files": [a, b]}, format="json").json()
    assert account.client.delete(f"/v1/files/{a}").status_code == 204
    assert account.client.get(f"/v1/notes/{note['id']}").json()["files"] == [b]


def test_list_queries_do_not_grow_with_links(account, django_assert_max_num_queries):
    files = [_file(account) for _ in range(3)]
    for index in range(4):
        account.client.post("/v1/notes", {"title": str(index), "files": files[: index % 4]}, format="json")
    account.client.get("/v1/notes")
    for limit in (1, 4):
        with django_assert_max_num_queries(2):  # the page + its links
            assert len(account.client.get("/v1/notes", {"limit": limit}).json()["results"]) == limit


def test_links_merge_by_push(account):
    a, b = _file(account), _file(account)
    note_id = str(uuid.uuid4())
    push(account, op("note", note_id, title="t"))
    account.client.patch(f"/v1/notes/{note_id}", {"title": "server"}, format="json")
    [merged] = push(account, op("note", note_id, base=1, files=[a, b]))
    assert merged["status"] == "merged"
    assert merged["data"]["files"] == sorted([a, b])
    assert merged["data"]["title"] == "server"


def test_pulled_notes_show_the_same_links_as_the_rest_api(account):
    """The pull reads notes its own way (apps/notes/sync.NoteSync.fetch_shaped): the same JSON as
    GET /v1/notes/{id}, links sorted, a deleted file gone, a note without links []."""
    a, b, c = _file(account), _file(account), _file(account)
    linked = account.client.post(
        "/v1/notes", {"title": "l", "tags": ["x"], "files": [c, a, b]}, format="json"
    ).json()
    plain = account.client.post("/v1/notes", {"title": "p"}, format="json").json()
    assert account.client.delete(f"/v1/files/{b}").status_code == 204

    pulled = account.client.get("/v1/sync/changes", {"types": "note"}).json()["changes"]
    by_id = {change["id"]: change["data"] for change in pulled}
    assert by_id[linked["id"]]["files"] == sorted([a, c])
    assert by_id[plain["id"]]["files"] == []
    for note in (linked, plain):
        assert by_id[note["id"]] == account.client.get(f"/v1/notes/{note['id']}").json()


def test_a_batch_of_edits_keeps_and_shows_each_notes_links(account):
    """Edits that leave the links alone take the batched path of a push; each result still
    shows its note's live links (read with the row lock), a deleted file's link gone."""
    kept, gone = _file(account), _file(account)
    notes = [
        account.client.post("/v1/notes", {"title": f"n{n}", "files": files}, format="json").json()
        for n, files in enumerate([[kept, gone], [], [gone]])
    ]
    assert account.client.delete(f"/v1/files/{gone}").status_code == 204
    results = push(
        account, *[op("note", note["id"], base=note["version"], body=f"b{n}") for n, note in enumerate(notes)]
    )
    assert [r["status"] for r in results] == ["applied"] * 3
    assert [r["data"]["files"] for r in results] == [[kept], [], []]
    assert [r["data"]["body"] for r in results] == ["b0", "b1", "b2"]
