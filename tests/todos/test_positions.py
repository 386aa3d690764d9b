"""Manual ordering: fractional keys that let a client insert between two tasks without
renumbering the others (apps/todos/positions.py), through the API."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from apps.todos import positions
from tests.conftest import Account, assert_problem

from .conftest import LISTS, TASKS, all_pages, make_list, make_task

# --- the key arithmetic ----------------------------------------------------------------------


def test_between_is_strictly_between_and_well_formed() -> None:
    rng = random.Random(7)
    keys = [positions.key_between(None, None)]
    for _ in range(2000):
        index = rng.randrange(len(keys) + 1)
        low = keys[index - 1] if index > 0 else None
        high = keys[index] if index < len(keys) else None
        key = positions.key_between(low, high)
        assert positions.is_valid(key), key
        assert low is None or low < key
        assert high is None or key < high
        keys.insert(index, key)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_appends_and_prepends_stay_short() -> None:
    key = positions.FIRST
    for _ in range(5000):
        key = positions.key_after(key)
    assert len(key) <= 4
    key = positions.FIRST
    for _ in range(5000):
        key = positions.key_before(key)
    assert len(key) <= 4


def test_repeated_inserts_into_one_gap_grow_slowly() -> None:
    low, high = "i", "i001"
    for _ in range(100):
        high = positions.key_between(low, high)  # always just after `low`
    assert low < high < "i001"
    assert len(high) < 40


def test_edges() -> None:
    assert positions.key_between(None, None) == "i"
    assert positions.key_before("0001") < "0001"
    assert positions.key_before("0000001") < "0000001"
    assert positions.key_after("zzzz") > "zzzz"
    assert positions.key_after("zzzzzz") > "zzzzzz"
    with pytest.raises(ValueError, match="not before"):
        positions.key_between("b", "a")
    assert positions.spread(3) == ["i", "i001", "i002"]
    assert not positions.is_valid("a0")
    assert not positions.is_valid("A")
    assert not positions.is_valid("")


# --- through the API -------------------------------------------------------------------------


def _titles(account: Account, list_id: str, **params: Any) -> list[str]:
    return [t["title"] for t in all_pages(account, TASKS, list=list_id, ordering="position", **params)]


def test_new_tasks_append_in_creation_order(account: Account, inbox: dict[str, Any]) -> None:
    for title in "abcde":
        make_task(account, inbox, title=title)
    assert _titles(account, inbox["id"]) == list("abcde")


def test_inserting_many_times_into_the_same_gap_never_renumbers(
    account: Account, inbox: dict[str, Any]
) -> None:
    first = make_task(account, inbox, title="first")
    last = make_task(account, inbox, title="last")
    for n in range(12):
        make_task(account, inbox, title=f"after-{n}", after=first["id"])
    for n in range(12):
        make_task(account, inbox, title=f"before-{n}", before=last["id"])
    expected = (
        ["first"]
        + [f"after-{n}" for n in reversed(range(12))]
        + [f"before-{n}" for n in range(12)]
        + ["last"]
    )
    assert _titles(account, inbox["id"]) == expected
    # Nobody else was touched: inserting writes only the new row.
    for task in all_pages(account, TASKS, list=inbox["id"]):
        assert task["version"] == 1


def test_between_two_named_tasks_and_moving(account: Account, inbox: dict[str, Any]) -> None:
    a = make_task(account, inbox, title="a")
    b = make_task(account, inbox, title="b")
    c = make_task(account, inbox, title="c")
    make_task(account, inbox, title="x", after=a["id"], before=b["id"])
    assert _titles(account, inbox["id"]) == ["a", "x", "b", "c"]
    # Move c to the top, then a to the very end.
    moved = account.client.patch(f"{TASKS}/{c['id']}", {"before": a["id"]}, format="json")
    assert moved.status_code == 200
    assert moved.json()["version"] == 2
    assert moved.json()["field_versions"]["position"] == 2
    account.client.patch(f"{TASKS}/{a['id']}", {"after": b["id"]}, format="json")
    assert _titles(account, inbox["id"]) == ["c", "x", "b", "a"]


def test_explicit_position(account: Account, inbox: dict[str, Any]) -> None:
    make_task(account, inbox, title="m", position="m")
    make_task(account, inbox, title="b", position="b")
    assert _titles(account, inbox["id"]) == ["b", "m"]
    assert get_position(account, inbox) == ["b", "m"]


def get_position(account: Account, inbox: dict[str, Any]) -> list[str]:
    return [t["position"] for t in all_pages(account, TASKS, list=inbox["id"])]


@pytest.mark.parametrize(
    "body",
    [
        {"position": "ABC"},
        {"position": "a0"},
        {"position": ""},
        {"position": "x" * 256},
        {"position": "b", "after": "{a}"},
        {"after": "not-a-uuid"},
        {"after": "{b}", "before": "{a}"},
        {"after": "{random}"},
        {"after": "{other_list_task}"},
        {"after": "{foreign}"},
        {"after": "{self}"},
    ],
)
def test_bad_placement_is_400(
    account: Account, other_account: Account, inbox: dict[str, Any], body: dict[str, Any]
) -> None:
    a = make_task(account, inbox, title="a")
    b = make_task(account, inbox, title="b")
    me = make_task(account, inbox, title="me")
    elsewhere = make_task(account, make_list(account, name="other"))
    foreign = make_task(other_account, make_list(other_account))
    ids = {
        "a": a["id"],
        "b": b["id"],
        "self": me["id"],
        "random": str(uuid.uuid4()),
        "other_list_task": elsewhere["id"],
        "foreign": foreign["id"],
    }
    filled = {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}
    if "{self}" not in body.values():  # for a new task, `me` is just another sibling
        created = account.client.post(TASKS, {"title": "new", "list": inbox["id"], **filled}, format="json")
        assert_problem(created, 400, "validation_error")
    patched = account.client.patch(f"{TASKS}/{me['id']}", filled, format="json")
    problem = assert_problem(patched, 400, "validation_error")
    assert set(problem["errors"]) <= {"position", "after", "before"}
    # The foreign task is not revealed: same message as an unknown id.
    if body.get("after") in ("{foreign}", "{random}"):
        assert problem["errors"]["after"] == [
            "Must be another task in the same list and under the same parent."
        ]


def test_keys_sort_the_same_in_the_database_and_in_python(account: Account, inbox: dict[str, Any]) -> None:
    """PostgreSQL compares text by collation; the key alphabet must sort there as in Python."""
    rng = random.Random(3)
    keys = set()
    while len(keys) < 40:
        length = rng.randint(1, 6)
        key = "".join(rng.choice(positions.DIGITS) for _ in range(length - 1)) + rng.choice(
            positions.DIGITS[1:]
        )
        keys.add(key)
    for key in keys:
        make_task(account, inbox, title=key, position=key)
    assert _titles(account, inbox["id"]) == sorted(keys)


def test_a_gap_too_deep_rebalances_the_siblings(
    account: Account, inbox: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(positions, "MAX_LENGTH", 6)
    first = make_task(account, inbox, title="first")
    make_task(account, inbox, title="last")
    expected = ["first", "last"]
    for n in range(30):
        make_task(account, inbox, title=f"n{n}", after=first["id"])
        expected.insert(1, f"n{n}")
    assert _titles(account, inbox["id"]) == expected
    tasks = all_pages(account, TASKS, list=inbox["id"])
    assert all(len(t["position"]) <= 6 for t in tasks)
    assert any(t["version"] > 1 for t in tasks)  # rebalanced rows carry new versions


def test_lists_are_ordered_and_placed_the_same_way(account: Account) -> None:
    a = make_list(account, name="a")
    b = make_list(account, name="b")
    make_list(account, name="x", after=a["id"])
    response = account.client.patch(f"{LISTS}/{b['id']}", {"before": a["id"]}, format="json")
    assert response.status_code == 200
    assert [item["name"] for item in all_pages(account, LISTS)] == ["b", "a", "x"]
    assert_problem(
        account.client.patch(f"{LISTS}/{b['id']}", {"after": str(uuid.uuid4())}, format="json"),
        400,
        "validation_error",
    )


@pytest.mark.django_db
def test_keys_sort_as_bytes_under_linguistic_collations_too() -> None:
    """Production databases are often initialised with a language collation rather than C: the
    key alphabet (digits and lowercase letters) must still sort as Python sorts it."""
    from django.db import connection

    rng = random.Random(11)
    keys = sorted(
        {
            "".join(rng.choice(positions.DIGITS) for _ in range(rng.randint(0, 5)))
            + rng.choice(positions.DIGITS[1:])
            for _ in range(300)
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collname FROM pg_collation WHERE collname IN ('und-x-icu', 'en-US-x-icu', 'en_US.utf8')"
        )
        collations = [row[0] for row in cursor.fetchall()]
        if not collations:
            # Only on a PostgreSQL built without ICU and without en_US (the test stack has both).
            pytest.skip("no linguistic collation installed on this server")
        for collation in collations:
            cursor.execute(
                f'SELECT k FROM unnest(%s::text[]) AS k ORDER BY k COLLATE "{collation}"',  # noqa: S608
                [list(reversed(keys))],
            )
            assert [row[0] for row in cursor.fetchall()] == keys, collation
