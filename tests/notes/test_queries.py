"""The number of SQL queries per request does not grow with the number of notes returned."""

from __future__ import annotations

import pytest

from tests.notes.conftest import URL, create_note, detail

pytestmark = pytest.mark.django_db

# Per request: the list (or object) query, plus at most a session-state lookup when the cache
# misses; writes add their transaction's statements. Generous enough to survive small changes
# in the foundation, tight enough that a per-row query would fail it.
READ_QUERIES = 3


def _fill(account, count, **fields):
    for index in range(count):
        create_note(account, title=f"walrus {index}", tags=["zoo"], **fields)


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "walrus"}, {"tag": "zoo"}, {"archived": "all", "pinned": "false"}],
)
def test_list_queries_do_not_grow_with_page_size(account, django_assert_max_num_queries, params):
    _fill(account, 25)
    account.client.get(URL)  # warm the session-state cache
    for limit in (1, 25):
        with django_assert_max_num_queries(READ_QUERIES) as captured:
            response = account.client.get(URL, {**params, "limit": limit})
        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) == limit
        assert len(captured) <= READ_QUERIES


def test_list_is_two_queries_once_the_session_is_cached(account, django_assert_max_num_queries):
    _fill(account, 5)
    account.client.get(URL)
    # The page and the file links of the whole page: one query on PostgreSQL (a subquery), two
    # elsewhere (see selectors.note_rows).
    with django_assert_max_num_queries(2):
        # A request that failed early (a 4xx) would use fewer queries and pass: check it did not.
        assert account.client.get(URL, {"limit": 5}).status_code == 200


def test_a_page_after_a_cursor_costs_the_same(account, django_assert_max_num_queries):
    _fill(account, 6)
    next_url = account.client.get(URL, {"limit": 2}).json()["next"]
    with django_assert_max_num_queries(READ_QUERIES):
        response = account.client.get(next_url)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_revision_list_queries_do_not_grow(account, django_assert_max_num_queries):
    note = create_note(account, title="r")
    for index in range(20):
        account.client.patch(detail(note["id"]), {"title": f"r{index}"}, format="json")
    url = f"{detail(note['id'])}/revisions"
    account.client.get(url)
    for limit in (1, 20):
        with django_assert_max_num_queries(READ_QUERIES + 1):  # + the note's existence check
            response = account.client.get(url, {"limit": limit})
        assert response.status_code == 200
        assert len(response.json()["results"]) == limit


def test_writes_cost_a_bounded_number_of_queries(account, django_assert_max_num_queries, settings):
    settings.NOTE_REVISIONS_KEPT = 2
    note = create_note(account, title="w")
    for index in range(3):  # fill the revision bound so pruning happens below
        account.client.patch(detail(note["id"]), {"title": f"w{index}"}, format="json")
    # savepoint/transaction + feed lock + note lock + max(number) + insert revision + prune
    # + update + feed counter + feed entry (+ savepoint of the feed write, + session)
    # + the response's file links
    with django_assert_max_num_queries(13):
        assert account.client.patch(detail(note["id"]), {"title": "again"}, format="json").status_code == 200
    # + feed lock, counter and entry (+ its savepoint), + setting the (empty) file links
    with django_assert_max_num_queries(12):
        assert account.client.post(URL, {"title": "new"}, format="json").status_code == 201
