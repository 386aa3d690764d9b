"""The reusable CRUD + permissions contract every versioned resource of the API must meet.

Subclass `CrudContract` in a test module, name the collection URL, and say how to build a
valid create body and a PATCH body; pytest then runs every check below for that resource:

    class TestTasks(CrudContract):
        url = "/v1/todos"

        def create_body(self, account):
            return {"title": "Buy milk"}

        def patch_body(self):
            return {"title": "Buy oat milk"}

The checks follow DESIGN.md §3: another user's object is 404 for every verb, anonymous is 401,
a stale If-Match is 412 and changes nothing, server-owned fields in a body are ignored, creating
twice with the same client id does not duplicate, deletes disappear from lists, and the number
of SQL queries of a list does not grow with its length.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from rest_framework.fields import empty
from rest_framework.renderers import JSONRenderer

from apps.common.views import VersionedDetailView
from apps.sync import registry
from tests.conftest import Account, assert_problem

SERVER_OWNED = {
    "owner": "00000000-0000-4000-8000-000000000001",
    "user": "00000000-0000-4000-8000-000000000001",
    "version": 999,
    "created_at": "2001-01-01T00:00:00Z",
    "updated_at": "2001-01-01T00:00:00Z",
}


@pytest.mark.django_db
class CrudContract:
    url: str = ""

    # --- what a subclass provides --------------------------------------------------------------

    def create_body(self, account: Account) -> dict[str, Any]:
        raise AssertionError("subclasses return a valid create body")

    def patch_body(self) -> dict[str, Any]:
        raise AssertionError("subclasses return a valid PATCH body")

    # --- helpers ---------------------------------------------------------------------------------

    def detail(self, obj_id: str) -> str:
        return f"{self.url}/{obj_id}"

    def create(self, account: Account, **extra: Any) -> dict[str, Any]:
        response = account.client.post(self.url, {**self.create_body(account), **extra}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    def feed_since(self, account: Account, cursor: str) -> tuple[list[dict[str, Any]], str]:
        """What a device's pull from `cursor` receives, and the cursor after it."""
        changes: list[dict[str, Any]] = []
        while True:
            page = account.client.get("/v1/sync/changes", {"cursor": cursor})
            assert page.status_code == 200, page.content
            changes += page.json()["changes"]
            cursor = page.json()["cursor"]
            if not page.json()["has_more"]:
                return changes, cursor

    # --- the contract ----------------------------------------------------------------------------

    def test_create_read_update_delete(self, account: Account) -> None:
        created = self.create(account)
        assert created["version"] == 1
        read = account.client.get(self.detail(created["id"]))
        assert read.status_code == 200
        assert read["ETag"] == '"1"'
        assert read.json() == created

        patched = account.client.patch(self.detail(created["id"]), self.patch_body(), format="json")
        assert patched.status_code == 200, patched.content
        assert patched.json()["version"] == 2
        assert patched["ETag"] == '"2"'
        for key, value in self.patch_body().items():
            assert patched.json()[key] == value

        deleted = account.client.delete(self.detail(created["id"]))
        assert deleted.status_code == 204
        assert_problem(account.client.get(self.detail(created["id"])), 404, "not_found")

    def test_every_write_is_one_version_and_one_feed_entry(self, account: Account) -> None:
        """The bookkeeping every resource shares (apps/common/models.py, `bump`): a change is one
        more version, stamps exactly the fields it changed, and is one entry in the feed; a
        change of nothing is no version; a delete is one more version, stamps no field and
        reaches the feed as a delete."""
        _, cursor = self.feed_since(account, "")
        created = self.create(account)
        changes, cursor = self.feed_since(account, cursor)
        changes = [c for c in changes if c["id"] == created["id"]]  # create_body may make others
        assert [(c["op"], c["version"]) for c in changes] == [("upsert", 1)]
        model = registry.get(changes[0]["type"]).model
        row = model._default_manager.get(id=created["id"])
        assert set(row.field_versions.values()) == {1}

        url = self.detail(created["id"])
        patched = account.client.patch(url, self.patch_body(), format="json")
        assert patched.status_code == 200, patched.content
        changes, cursor = self.feed_since(account, cursor)
        assert [(c["id"], c["op"], c["version"], c["data"]) for c in changes] == [
            (created["id"], "upsert", 2, patched.json())
        ]
        row.refresh_from_db()
        assert {name for name, at in row.field_versions.items() if at == 2} == set(self.patch_body())

        same = account.client.patch(url, self.patch_body(), format="json")
        assert same.status_code == 200
        assert same.json()["version"] == 2
        assert self.feed_since(account, cursor)[0] == []

        assert account.client.delete(url).status_code == 204
        changes, cursor = self.feed_since(account, cursor)
        assert [(c["id"], c["op"], c["version"]) for c in changes if c["id"] == created["id"]] == [
            (created["id"], "delete", 3)
        ]
        stamps = row.field_versions
        row.refresh_from_db()
        assert (row.version, row.field_versions) == (3, stamps)

    def test_every_reader_answers_the_output_serializers_shape(self, account: Account) -> None:
        """Lists, details and pulls read rows, not model instances (apps/common/rows.py); each
        answers, byte for byte once parsed, what the output serializer makes of the object:
        same keys in the same order, same values."""
        _, cursor = self.feed_since(account, "")
        created = self.create(account)
        patched = account.client.patch(self.detail(created["id"]), self.patch_body(), format="json")
        assert patched.status_code == 200, patched.content
        pulled = [c for c in self.feed_since(account, cursor)[0] if c["id"] == created["id"]]
        sync_type = registry.get(pulled[0]["type"])
        obj_id = uuid.UUID(created["id"])
        obj = sync_type.fetch(owner_id=account.id, ids=[obj_id])[obj_id]
        expected = orjson.loads(JSONRenderer().render(sync_type.serialize([obj])[0]))
        assert sync_type.output_serializer is self.detail_view(created["id"]).output_serializer

        detail = account.client.get(self.detail(created["id"])).json()
        listed = [item for item in self.list_all(account) if item["id"] == created["id"]]
        for answer in (patched.json(), detail, *listed, pulled[-1]["data"]):
            assert list(answer) == list(expected)
            assert answer == expected
        assert len(listed) == 1

    def test_the_tag_filter_means_the_same_everywhere(self, account: Account) -> None:
        """`?tag=` (apps/common/filters.TagsFilter): matched as tags are stored, and repeated it
        means every one. A resource without tags has no tag filter."""
        first = self.create(account)
        if "tags" not in first:
            assert self.list_all(account, tag="x"), "an unknown filter is ignored, not applied"
            return
        second, third = self.create(account), self.create(account)
        for obj, tags in ((first, ["Alpha", "beta"]), (second, ["alpha "]), (third, [])):
            patched = account.client.patch(self.detail(obj["id"]), {"tags": tags}, format="json")
            assert patched.status_code == 200, patched.content
        ours = {first["id"]: "first", second["id"]: "second", third["id"]: "third"}

        def matching(*tags: str) -> set[str]:
            return {ours[item["id"]] for item in self.list_all(account, tag=list(tags)) if item["id"] in ours}

        assert matching("ALPHA") == {"first", "second"}
        assert matching("alpha", " Beta") == {"first"}
        assert matching("gamma") == set()

    def list_all(self, account: Account, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if params:
            first = account.client.get(self.url, params)
            assert first.status_code == 200, first.content
            items += first.json()["results"]
            url: str | None = first.json()["next"]
        else:
            url = self.url
        while url:
            page = account.client.get(url)
            assert page.status_code == 200, page.content
            items += page.json()["results"]
            url = page.json()["next"]
        return items

    def detail_view(self, obj_id: str) -> type[VersionedDetailView]:
        view = resolve(self.detail(obj_id)).func.view_class  # type: ignore[attr-defined]
        assert issubclass(view, VersionedDetailView), "a detail is built on the resource kit"
        return view

    def test_put_gives_absent_fields_their_declared_defaults(self, account: Account) -> None:
        """PUT means one thing everywhere: the input serializer's required fields are sent, every
        other field takes the default it declares (and the schema shows)."""
        created = self.create(account)
        account.client.patch(self.detail(created["id"]), self.patch_body(), format="json")
        fields = self.detail_view(created["id"]).input_serializer().fields
        required = {name: created[name] for name, field in fields.items() if field.required}
        put = account.client.put(self.detail(created["id"]), required, format="json")
        assert put.status_code == 200, put.content
        defaults = {
            name: field.get_default()
            for name, field in fields.items()
            if field.default is not empty and name in put.json()
        }
        assert defaults, "the resource declares defaults"
        assert {name: put.json()[name] for name in defaults} == defaults
        assert {name: put.json()[name] for name in required} == required

    def test_an_unknown_id_is_404_before_the_body_is_validated(self, account: Account) -> None:
        created = self.create(account)
        unknown = self.detail(str(uuid.uuid4()))
        for method in (account.client.put, account.client.patch):
            assert_problem(method(unknown, [], format="json"), 404, "not_found")
            assert_problem(method(self.detail(created["id"]), [], format="json"), 400)

    def test_another_users_object_is_404_for_every_verb(
        self, account: Account, other_account: Account
    ) -> None:
        created = self.create(account)
        url = self.detail(created["id"])
        thief = other_account.client
        assert_problem(thief.get(url), 404, "not_found")
        assert_problem(thief.patch(url, self.patch_body(), format="json"), 404, "not_found")
        assert_problem(thief.put(url, self.create_body(other_account), format="json"), 404)
        assert_problem(thief.delete(url), 404, "not_found")
        listed = thief.get(self.url).json()["results"]
        assert created["id"] not in {item["id"] for item in listed}
        # Nothing changed for the owner.
        assert account.client.get(url).json() == created

    def test_anonymous_is_401(self, api: Any, account: Account) -> None:
        created = self.create(account)
        assert_problem(api.get(self.url), 401)
        assert_problem(api.post(self.url, self.create_body(account), format="json"), 401)
        assert_problem(api.get(self.detail(created["id"])), 401)
        assert_problem(api.patch(self.detail(created["id"]), self.patch_body(), format="json"), 401)
        assert_problem(api.delete(self.detail(created["id"])), 401)

    def test_stale_if_match_is_412_and_changes_nothing(self, account: Account) -> None:
        created = self.create(account)
        url = self.detail(created["id"])
        ok = account.client.patch(url, self.patch_body(), format="json", HTTP_IF_MATCH='"1"')
        assert ok.status_code == 200
        stale = account.client.patch(url, self.create_body(account), format="json", HTTP_IF_MATCH='"1"')
        assert_problem(stale, 412, "precondition_failed")
        assert_problem(account.client.delete(url, HTTP_IF_MATCH='"1"'), 412, "precondition_failed")
        assert account.client.get(url).json() == ok.json()
        assert account.client.delete(url, HTTP_IF_MATCH='"2"').status_code == 204

    def test_server_owned_fields_in_a_body_are_ignored(self, account: Account) -> None:
        created = self.create(account, **SERVER_OWNED)
        assert created["version"] == 1
        assert created["created_at"] != SERVER_OWNED["created_at"]
        patched = account.client.patch(
            self.detail(created["id"]), {**self.patch_body(), **SERVER_OWNED}, format="json"
        )
        assert patched.status_code == 200
        assert patched.json()["version"] == 2
        assert account.client.get(self.detail(created["id"])).status_code == 200

    def test_client_chosen_id_is_idempotent(self, account: Account, other_account: Account) -> None:
        chosen = str(uuid.uuid4())
        body = {**self.create_body(account), "id": chosen}
        first = account.client.post(self.url, body, format="json")
        assert first.status_code == 201, first.content
        assert first.json()["id"] == chosen
        again = account.client.post(self.url, body, format="json")
        assert again.status_code in (200, 201)
        assert again.json() == first.json()
        ids = [item["id"] for item in account.client.get(self.url).json()["results"]]
        assert ids.count(chosen) == 1
        different = {**self.create_body(account), **self.patch_body(), "id": chosen}
        assert_problem(account.client.post(self.url, different, format="json"), 409, "id_conflict")
        taken = {**self.create_body(other_account), "id": chosen}
        assert_problem(other_account.client.post(self.url, taken, format="json"), 409, "id_conflict")

    def test_deleted_objects_leave_the_list(self, account: Account) -> None:
        keep = self.create(account)
        gone = self.create(account)
        assert account.client.delete(self.detail(gone["id"])).status_code == 204
        ids = {item["id"] for item in account.client.get(self.url).json()["results"]}
        assert keep["id"] in ids
        assert gone["id"] not in ids

    def test_list_query_count_does_not_grow_with_page_size(self, account: Account) -> None:
        for _ in range(3):
            self.create(account)
        account.client.get(self.url)  # warm caches (session state)
        counts = []
        for limit in (1, 3):
            with CaptureQueriesContext(connection) as queries:
                response = account.client.get(self.url, {"limit": limit})
            assert response.status_code == 200
            assert len(response.json()["results"]) == limit
            counts.append(len(queries))
        assert counts[0] == counts[1], counts
