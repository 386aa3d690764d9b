"""Full-text search: PostgreSQL ranking and stemming, owner scoping, paging by rank, and the
substring fallback other databases use."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.notes import selectors
from apps.notes.models import Note
from tests.notes.conftest import URL, create_note, detail, listed, titles

pytestmark = pytest.mark.django_db


def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_term_in_title_and_body_ranks_above_a_single_mention(account):
    create_note(account, title="Shopping", body="Remember the garden hose.")
    create_note(account, title="Garden", body="Plant tomatoes in the garden in May.")
    create_note(account, title="Books", body="Nothing relevant here.")
    assert titles(account, q="garden") == ["Garden", "Shopping"]


def test_a_title_match_outranks_a_body_match(account):
    create_note(account, title="Notes", body="tomatoes")
    create_note(account, title="Tomatoes", body="notes")
    assert titles(account, q="tomato") == ["Tomatoes", "Notes"]


def test_rank_beats_pinned_and_recency(account):
    create_note(account, title="Kayak trip", body="kayak kayak kayak")
    create_note(account, title="Pinned", body="kayak once", pinned=True)
    assert titles(account, q="kayak") == ["Kayak trip", "Pinned"]


def test_stemming_matches_other_forms_of_a_word(account):
    create_note(account, title="Daily", body="I run every morning.")
    create_note(account, title="Other", body="I walk.")
    assert titles(account, q="running") == ["Daily"]
    assert titles(account, q="runs") == ["Daily"]


def test_search_is_case_insensitive_and_matches_every_word(account):
    create_note(account, title="Trip", body="Pack the TENT and the stove")
    create_note(account, title="Camp", body="Only the tent")
    assert sorted(titles(account, q="tent")) == ["Camp", "Trip"]
    assert titles(account, q="Tent Stove") == ["Trip"]


def test_web_search_syntax(account):
    create_note(account, title="A", body="red apples")
    create_note(account, title="B", body="green apples")
    create_note(account, title="C", body="apples are red sometimes")
    assert sorted(titles(account, q="apples -green")) == ["A", "C"]
    assert titles(account, q='"red apples"') == ["A"]
    assert sorted(titles(account, q="green or sometimes")) == ["B", "C"]


def test_search_never_shows_other_users_notes(account, other_account):
    create_note(other_account, title="Secret plan", body="secret secret")
    mine = create_note(account, title="My plan", body="a secret")
    results = listed(account, q="secret")
    assert [n["id"] for n in results] == [mine["id"]]
    assert listed(other_account, q="a secret")[0]["title"] == "Secret plan"


def test_search_skips_deleted_and_archived_notes_unless_asked(account):
    gone = create_note(account, title="Gone", body="zebra")
    create_note(account, title="Archived", body="zebra", archived=True)
    create_note(account, title="Live", body="zebra")
    account.client.delete(detail(gone["id"]))
    assert titles(account, q="zebra") == ["Live"]
    assert sorted(titles(account, q="zebra", archived="all")) == ["Archived", "Live"]


def test_search_combines_with_filters(account):
    create_note(account, title="Work zebra", tags=["work"])
    create_note(account, title="Home zebra", tags=["home"])
    assert titles(account, q="zebra", tag="work") == ["Work zebra"]


def test_the_index_follows_edits(account):
    note = create_note(account, title="Before", body="aardvark")
    assert titles(account, q="aardvark") == ["Before"]
    account.client.patch(detail(note["id"]), {"body": "platypus"}, format="json")
    assert titles(account, q="aardvark") == []
    assert titles(account, q="platypus") == ["Before"]


def test_stop_words_only_find_nothing_without_failing(account):
    create_note(account, title="The", body="the and of")
    assert titles(account, q="the") == []


def test_search_results_page_by_rank_without_gaps_or_repeats(account):
    for count in range(1, 6):
        create_note(account, title=f"n{count}", body=" ".join(["walrus"] * count))
    create_note(account, title="tie", body="walrus walrus")  # same rank as n2: ids break the tie
    expected = [n["id"] for n in listed(account, q="walrus", limit=200)]
    assert len(expected) == 6
    seen = []
    response = account.client.get(URL, {"q": "walrus", "limit": 2})
    while True:
        page = response.json()
        seen.extend(n["id"] for n in page["results"])
        if not page["next"]:
            break
        response = account.client.get(page["next"])
    assert seen == expected
    assert listed(account, q="walrus", limit=200)[0]["title"] == "n5"


def test_long_bodies_are_searchable_in_their_first_100000_characters(account):
    filler = "filler " * 20000  # 140,000 characters
    create_note(account, title="Long", body="needle at the start " + filler + " quokka")
    assert titles(account, q="needle") == ["Long"]
    assert titles(account, q="quokka") == []  # past the indexed prefix (documented)


def test_adversarial_text_stays_within_the_index_limits(account):
    # Many distinct hyphenated words of 4-byte characters: the densest text for a tsvector.
    def char(i):
        return chr(0x20000 + i % 40000)

    body = " ".join(f"{char(i)}{char(i * 7 + 1)}-{char(i * 13 + 2)}{char(i * 17 + 3)}" for i in range(40000))
    note = account.client.post(URL, {"title": "dense", "body": body}, format="json")
    assert note.status_code == 201, note.content[:300]


def test_fallback_matches_substrings_case_insensitively(account, monkeypatch):
    monkeypatch.setattr(selectors, "search_backend", lambda queryset: "fallback")
    create_note(account, title="Groceries", body="Milk and EGGS")
    create_note(account, title="Work", body="eggs for the team", pinned=True)
    create_note(account, title="Other", body="nothing")
    assert sorted(titles(account, q="eggs")) == ["Groceries", "Work"]
    assert titles(account, q="milk EGG") == ["Groceries"]
    assert titles(account, q="100%") == []


def test_fallback_pages_too(account, monkeypatch):
    monkeypatch.setattr(selectors, "search_backend", lambda queryset: "fallback")
    for index in range(3):
        create_note(account, title=f"lemon {index}")
    first = account.client.get(URL, {"q": "lemon", "limit": 2}).json()
    second = account.client.get(first["next"]).json()
    ids = [n["id"] for n in first["results"] + second["results"]]
    assert len(set(ids)) == 3
    assert second["next"] is None


def test_search_vector_is_not_a_model_field_and_not_loaded():
    assert "search_vector" not in {field.name for field in Note._meta.get_fields()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_generated FROM information_schema.columns "
            "WHERE table_name = 'notes_note' AND column_name = 'search_vector'"
        )
        assert cursor.fetchone() == ("ALWAYS",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'note_search_vector'")
        assert "gin" in cursor.fetchone()[0].lower()


def _marked(segments: list[str]) -> list[str]:
    return segments[1::2]


def test_search_results_say_what_matched(account):
    body = "Packing list. " + "Filler words about nothing much. " * 20 + "Running shoes and a rain jacket."
    create_note(account, title="Trip: running plan", body=body)
    create_note(account, title="Other", body="nothing")
    [found] = listed(account, q="run")
    highlight = found["highlight"]
    # Stemmed like the search: "run" marks "running"; the title whole, the body around the match.
    assert "".join(highlight["title"]) == "Trip: running plan"
    assert _marked(highlight["title"]) == ["running"]
    assert _marked(highlight["body"]) == ["Running"]
    assert "Running shoes" in "".join(highlight["body"])
    assert len("".join(highlight["body"])) < len(body)


def test_a_note_cannot_fake_a_mark_and_lists_without_q_carry_no_highlight(account):
    create_note(account, title="kayak \ue000fake\ue001 mark", body="kayak")
    [found] = listed(account, q="kayak")
    assert "".join(found["highlight"]["title"]) == "kayak fake mark"
    assert _marked(found["highlight"]["title"]) == ["kayak"]
    assert "highlight" not in listed(account)[0]


def test_fallback_highlights_the_words_as_typed(account, monkeypatch):
    monkeypatch.setattr(selectors, "search_backend", lambda queryset: "fallback")
    create_note(account, title="Garden plan", body="x " * 300 + "the GARDEN hose")
    [found] = listed(account, q="garden")
    assert _marked(found["highlight"]["title"]) == ["Garden"]
    assert _marked(found["highlight"]["body"]) == ["GARDEN"]
