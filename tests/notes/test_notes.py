"""Notes through the public API: fields, validation, PUT, client ids, filters, ordering, paging."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notes.models import Note
from tests.conftest import assert_problem
from tests.notes.conftest import URL, create_note, detail, listed, titles

pytestmark = pytest.mark.django_db


def test_create_returns_the_note_with_defaults_etag_and_location(account):
    response = account.client.post(URL, {}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body.keys() == {
        "id",
        "title",
        "body",
        "tags",
        "pinned",
        "archived",
        "files",
        "version",
        "created_at",
        "updated_at",
    }
    assert body | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "title": "",
        "body": "",
        "tags": [],
        "pinned": False,
        "archived": False,
        "files": [],
        "version": 1,
        "created_at": None,
        "updated_at": None,
    }
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"/v1/notes/{body['id']}"
    note = Note.objects.get(id=body["id"])
    assert str(note.owner_id) == account.id


def test_body_is_kept_exactly_and_title_is_trimmed(account):
    body = "  # Heading\n\n* item  \n\ttabbed\n\n"
    note = create_note(account, title="  Plans  ", body=body)
    assert note["title"] == "Plans"
    assert note["body"] == body


def test_tags_are_normalised(account):
    note = create_note(account, tags=["Work", "  Side   Project ", "work", "ÉTÉ"])
    assert note["tags"] == ["side project", "work", "été"]
    patched = account.client.patch(detail(note["id"]), {"tags": ["B", "a", "b"]}, format="json")
    assert patched.json()["tags"] == ["a", "b"]


def test_put_replaces_every_field(account):
    note = create_note(account, title="Old", body="text", tags=["x"], pinned=True, archived=True)
    response = account.client.put(detail(note["id"]), {"title": "New"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"updated_at": None} == note | {
        "title": "New",
        "body": "",
        "tags": [],
        "pinned": False,
        "archived": False,
        "version": 2,
        "updated_at": None,
    }
    assert response["ETag"] == '"2"'


def test_put_honours_if_match(account):
    note = create_note(account, title="A")
    url = detail(note["id"])
    assert account.client.put(url, {"title": "B"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    stale = account.client.put(url, {"title": "C"}, format="json", HTTP_IF_MATCH='"1"')
    body = assert_problem(stale, 412, "precondition_failed")
    assert body["current_version"] == 2
    assert stale["ETag"] == '"2"'
    assert account.client.get(url).json()["title"] == "B"


def test_if_match_star_and_garbage(account):
    note = create_note(account, title="A")
    url = detail(note["id"])
    assert account.client.patch(url, {"title": "B"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert_problem(account.client.patch(url, {"title": "C"}, format="json", HTTP_IF_MATCH="nonsense"), 412)
    assert_problem(account.client.delete(url, HTTP_IF_MATCH='W/"99"'), 412)


def test_writing_the_same_values_is_no_change(account):
    note = create_note(account, title="Same", tags=["a"])
    response = account.client.patch(detail(note["id"]), {"title": "Same", "tags": ["A"]}, format="json")
    assert response.status_code == 200
    assert response.json() == note


def test_unknown_and_server_owned_fields_are_ignored(account):
    note = create_note(account, title="x", deleted_at="2001-01-01T00:00:00Z", colour="red")
    assert note["version"] == 1
    patched = account.client.patch(
        detail(note["id"]),
        {"id": str(uuid.uuid4()), "deleted_at": "2001-01-01T00:00:00Z", "field_versions": {"title": 99}},
        format="json",
    )
    assert patched.status_code == 200
    assert patched.json() == note
    stored = Note.objects.get(id=note["id"])
    assert stored.deleted_at is None
    assert stored.field_versions["title"] == 1


# --- client-chosen ids -------------------------------------------------------------------------


def test_repeated_create_returns_the_existing_note_without_a_new_version(account):
    chosen = str(uuid.uuid4())
    first = account.client.post(URL, {"id": chosen, "title": "Offline"}, format="json")
    assert first.status_code == 201
    again = account.client.post(URL, {"id": chosen, "title": "Offline", "tags": []}, format="json")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["ETag"] == '"1"'
    assert Note.objects.filter(id=chosen).count() == 1


def test_create_with_the_id_of_a_deleted_note_is_a_conflict(account):
    chosen = str(uuid.uuid4())
    account.client.post(URL, {"id": chosen, "title": "Gone"}, format="json")
    assert account.client.delete(detail(chosen)).status_code == 204
    assert_problem(
        account.client.post(URL, {"id": chosen, "title": "Gone"}, format="json"), 409, "id_conflict"
    )


def test_create_after_an_edit_with_the_original_body_is_a_conflict(account):
    chosen = str(uuid.uuid4())
    account.client.post(URL, {"id": chosen, "title": "v1"}, format="json")
    account.client.patch(detail(chosen), {"title": "v2"}, format="json")
    assert_problem(account.client.post(URL, {"id": chosen, "title": "v1"}, format="json"), 409, "id_conflict")


# --- validation: always a problem, never a 500 -------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x" * 501}, "title"),
        ({"title": None}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"title": ["a"]}, "title"),
        ({"body": None}, "body"),
        ({"tags": "work"}, "tags"),
        ({"tags": [""]}, "tags.0"),
        ({"tags": [None]}, "tags.0"),
        ({"tags": [{"a": 1}]}, "tags.0"),
        ({"tags": ["x" * 65]}, "tags.0"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"tags": None}, "tags"),
        ({"pinned": "maybe"}, "pinned"),
        ({"pinned": None}, "pinned"),
        ({"archived": [True]}, "archived"),
        ({"id": "not-a-uuid"}, "id"),
        ({"id": [1]}, "id"),
    ],
)
def test_invalid_fields_are_validation_problems(account, payload, field):
    body = assert_problem(account.client.post(URL, payload, format="json"), 400, "validation_error")
    assert field in body["errors"], body
    note = create_note(account, title="ok")
    if "id" not in payload:
        patched = account.client.patch(detail(note["id"]), payload, format="json")
        assert field in assert_problem(patched, 400, "validation_error")["errors"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"null", "application/json", 400),
        (b'{"title": "\\ud800"}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"title=x", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies_are_problems(account, content, content_type, status):
    response = account.client.generic("POST", URL, content, content_type=content_type)
    assert_problem(response, status)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "nul \x00 byte"}, "body"),
        ({"tags": ["ok", "a\x00"]}, "tags.1"),
        ({"title": "\ud800"}, "title"),
    ],
)
def test_text_postgresql_cannot_store_is_refused(account, payload, field):
    raw = json.dumps(payload)  # lone surrogates as \u escapes, as a browser sends them
    created = account.client.generic("POST", URL, raw, content_type="application/json")
    assert list(assert_problem(created, 400, "invalid_text")["errors"]) == [field]
    note = create_note(account, title="ok")
    patched = account.client.generic("PATCH", detail(note["id"]), raw, content_type="application/json")
    assert list(assert_problem(patched, 400, "invalid_text")["errors"]) == [field]
    assert_problem(account.client.get(URL, {"q": "nul \x00"}), 400, "invalid_text")


def test_tags_that_grow_past_the_limit_when_lowercased_are_refused(account):
    # "İ" (one character) lower-cases to two: the service checks the normalised form too.
    body = assert_problem(
        account.client.post(URL, {"tags": ["İ" * 64]}, format="json"), 400, "validation_error"
    )
    assert "tags" in body["errors"]


@pytest.mark.parametrize(
    "params",
    [
        {"updated_since": "yesterday"},
        {"q": "x" * 501},
        {"archived": "maybe"},
    ],
)
def test_bad_query_parameters_are_validation_problems(account, params):
    assert_problem(account.client.get(URL, params), 400, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "-5"},
        {"limit": "100000"},
        {"pinned": "maybe"},
        {"tag": ""},
        {"q": "   "},
        {"q": '"unclosed phrase'},
        {"q": "!!! & | :* <-> ()"},
        {"q": "-"},
        {"q": "or"},
    ],
)
def test_odd_query_parameters_never_fail(account, params):
    create_note(account, title="something")
    assert account.client.get(URL, params).status_code == 200


def test_invalid_ids_in_paths_are_404(account):
    assert_problem(account.client.get(f"{URL}/not-a-uuid"), 404)
    assert_problem(account.client.get(detail(str(uuid.uuid4()))), 404, "not_found")
    assert_problem(account.client.patch(detail(str(uuid.uuid4())), {"title": "x"}, format="json"), 404)


# --- size cap ----------------------------------------------------------------------------------


def test_body_over_the_cap_is_413(account, settings):
    settings.NOTE_BODY_MAX_BYTES = 1024
    assert create_note(account, body="a" * 1024)["body"] == "a" * 1024
    body = assert_problem(
        account.client.post(URL, {"body": "a" * 1025}, format="json"), 413, "note_too_large"
    )
    assert body["max_bytes"] == 1024
    assert "body" in body["errors"]


def test_the_cap_counts_utf8_bytes_not_characters(account, settings):
    settings.NOTE_BODY_MAX_BYTES = 1024
    euros = "€" * 342  # 342 characters, 1026 bytes
    assert_problem(account.client.post(URL, {"body": euros}, format="json"), 413, "note_too_large")
    note = create_note(account, body="€" * 341)
    assert_problem(
        account.client.patch(detail(note["id"]), {"body": euros}, format="json"), 413, "note_too_large"
    )
    assert_problem(account.client.put(detail(note["id"]), {"body": euros}, format="json"), 413)
    assert account.client.get(detail(note["id"])).json()["version"] == 1


def test_default_cap_is_one_mebibyte(account):
    big = "x" * (1024 * 1024)
    note = create_note(account, body=big)
    assert len(note["body"]) == 1024 * 1024
    assert_problem(account.client.post(URL, {"body": big + "x"}, format="json"), 413, "note_too_large")


def test_a_request_far_over_the_cap_is_a_problem_not_a_crash(account):
    response = account.client.post(URL, {"body": "x" * (3 * 1024 * 1024)}, format="json")
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/problem+json")


# --- lists: ordering, archived, filters, pages ---------------------------------------------------


def _age(note_id, minutes):
    Note.objects.filter(id=note_id).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def test_list_is_pinned_first_then_most_recently_updated(account):
    old = create_note(account, title="old")
    pinned_old = create_note(account, title="pinned old", pinned=True)
    new = create_note(account, title="new")
    pinned_new = create_note(account, title="pinned new", pinned=True)
    for minutes, note in zip((40, 30, 20, 10), (old, pinned_old, new, pinned_new), strict=True):
        _age(note["id"], minutes)
    assert titles(account) == ["pinned new", "pinned old", "new", "old"]
    account.client.patch(detail(old["id"]), {"body": "touched"}, format="json")
    assert titles(account) == ["pinned new", "pinned old", "old", "new"]


def test_archived_notes_are_hidden_unless_asked_for(account):
    create_note(account, title="live")
    create_note(account, title="archived", archived=True)
    assert titles(account) == ["live"]
    assert titles(account, archived="false") == ["live"]
    assert titles(account, archived="true") == ["archived"]
    assert sorted(titles(account, archived="all")) == ["archived", "live"]


def test_archived_note_is_still_readable_and_editable(account):
    note = create_note(account, title="archived", archived=True)
    assert account.client.get(detail(note["id"])).status_code == 200
    unarchived = account.client.patch(detail(note["id"]), {"archived": False}, format="json")
    assert unarchived.json()["archived"] is False
    assert titles(account) == ["archived"]


def test_filter_by_pinned(account):
    create_note(account, title="p", pinned=True)
    create_note(account, title="u")
    assert titles(account, pinned="true") == ["p"]
    assert titles(account, pinned="false") == ["u"]


def test_filter_by_tags_is_case_insensitive_and_repeatable(account, other_account):
    create_note(account, title="both", tags=["Home", "urgent"])
    create_note(account, title="home", tags=["home"])
    create_note(account, title="none")
    create_note(other_account, title="theirs", tags=["home"])
    assert sorted(titles(account, tag="HOME")) == ["both", "home"]
    response = account.client.get(URL + "?tag=home&tag=Urgent")
    assert [n["title"] for n in response.json()["results"]] == ["both"]
    assert titles(account, tag="hom") == []


def test_filter_by_updated_since(account):
    old = create_note(account, title="old")
    create_note(account, title="recent")
    _age(old["id"], 60)
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert titles(account, updated_since=since) == ["recent"]


def test_filters_combine(account):
    create_note(account, title="match", tags=["x"], pinned=True, archived=True)
    create_note(account, title="unpinned", tags=["x"], archived=True)
    create_note(account, title="live", tags=["x"], pinned=True)
    assert titles(account, tag="x", pinned="true", archived="true") == ["match"]


def _walk(account, **params):
    seen = []
    response = account.client.get(URL, params)
    while True:
        assert response.status_code == 200, response.content
        page = response.json()
        seen.extend(page["results"])
        if page["next"] is None:
            return seen
        response = account.client.get(page["next"])


def test_pages_follow_the_order_without_gaps_or_repeats(account):
    created = []
    for index in range(7):
        created.append(create_note(account, title=f"n{index}", pinned=index % 3 == 0))
    # Two notes share one updated_at: the id breaks the tie.
    same = timezone.now() - timedelta(minutes=1)
    Note.objects.filter(id__in=[created[1]["id"], created[2]["id"]]).update(updated_at=same)
    everything = [n["id"] for n in listed(account, limit=200)]
    for limit in (1, 2, 3):
        walked = [n["id"] for n in _walk(account, limit=limit)]
        assert walked == everything
    assert len(everything) == 7


def test_limit_is_clamped(account):
    for _ in range(3):
        create_note(account)
    assert len(listed(account, limit=2)) == 2
    assert len(listed(account, limit=0)) == 1
    assert len(listed(account, limit=10_000)) == 3


def _cursor(payload):
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        _cursor([1, 2]),
        _cursor({"o": ["-pinned", "-updated_at", "-id"], "p": ["x", "y", "z"]}),
        _cursor(
            {"o": ["-pinned", "-updated_at", "-id"], "p": [True, "2024-01-01T00:00:00", str(uuid.uuid4())]}
        ),
        _cursor({"o": ["-pinned", "-updated_at", "-id"], "p": [True, None, str(uuid.uuid4())]}),
        _cursor({"o": ["-pinned", "-updated_at", "-id"], "p": [True, 5, 7]}),
        _cursor({"o": ["-pinned", "-updated_at", "-id"], "p": [True]}),
        _cursor(
            {"o": ["-rank", "-updated_at", "-id"], "p": [1.0, "2024-01-01T00:00:00Z", str(uuid.uuid4())]}
        ),
        _cursor({"o": ["-owner__email"], "p": ["x"]}),
    ],
)
def test_tampered_cursors_are_404(account, cursor):
    create_note(account)
    assert_problem(account.client.get(URL, {"cursor": cursor}), 404, "not_found")


def test_a_list_cursor_does_not_work_for_a_search(account):
    for _ in range(2):
        create_note(account, title="apple")
    next_url = account.client.get(URL, {"limit": 1}).json()["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    assert_problem(account.client.get(URL, {"q": "apple", "cursor": cursor}), 404)


# --- field versions ------------------------------------------------------------------------------


def _field_versions(note_id):
    return Note.objects.get(id=note_id).field_versions


def test_field_versions_follow_every_change(account):
    note = create_note(account, title="t", body="b")
    url = detail(note["id"])
    assert _field_versions(note["id"]) == {
        "title": 1,
        "body": 1,
        "tags": 1,
        "pinned": 1,
        "archived": 1,
        "files": 1,
    }

    account.client.patch(url, {"title": "t2"}, format="json")
    assert _field_versions(note["id"]) == {
        "title": 2,
        "body": 1,
        "tags": 1,
        "pinned": 1,
        "archived": 1,
        "files": 1,
    }

    account.client.patch(url, {"pinned": True, "tags": ["x"], "title": "t2"}, format="json")
    assert _field_versions(note["id"]) == {
        "title": 2,
        "body": 1,
        "tags": 3,
        "pinned": 3,
        "archived": 1,
        "files": 1,
    }

    account.client.patch(url, {"pinned": True}, format="json")  # no change, no version
    assert _field_versions(note["id"]) == {
        "title": 2,
        "body": 1,
        "tags": 3,
        "pinned": 3,
        "archived": 1,
        "files": 1,
    }

    # PUT: fields that end up different change; equal ones keep their version.
    put = account.client.put(
        url, {"title": "t2", "body": "b", "tags": ["x"], "archived": True}, format="json"
    )
    assert put.json()["version"] == 4
    assert _field_versions(note["id"]) == {
        "title": 2,
        "body": 1,
        "tags": 3,
        "pinned": 4,
        "archived": 4,
        "files": 1,
    }

    account.client.post(f"{url}/revisions/1/restore")  # title "t", body "b"
    assert _field_versions(note["id"]) == {
        "title": 5,
        "body": 1,
        "tags": 3,
        "pinned": 4,
        "archived": 4,
        "files": 1,
    }

    account.client.delete(url)
    stored = Note.objects.get(id=note["id"])
    assert stored.version == 6
    assert stored.field_versions == {"title": 5, "body": 1, "tags": 3, "pinned": 4, "archived": 4, "files": 1}


@pytest.mark.parametrize("ordering", [None, "search"])
def test_list_pages_stop_at_the_byte_budget(account, settings, ordering):
    """Issue 12: a list page of 200 notes of 1 MB was 200 MB. Pages end at LIST_MAX_BYTES of
    text (one note at least), bodies past it never leave the database, `next` goes on."""
    settings.LIST_MAX_BYTES = 64 * 1024
    for index in range(6):
        create_note(account, title=f"big {index}", body=f"word{index} " + "x" * (40 * 1024))
    params = {"limit": 200, **({"q": "big"} if ordering else {})}
    seen, pages, url = [], 0, URL
    while url:
        response = account.client.get(url, params if url == URL else None)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == 1  # two 40 KiB notes do not fit in 64 KiB
        assert all(len(note["body"]) > 40 * 1024 for note in body["results"])
        seen += [note["id"] for note in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 6
    assert len(seen) == len(set(seen)) == 6
