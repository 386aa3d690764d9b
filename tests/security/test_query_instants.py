"""Instants in query parameters (`updated_since`, `created_since`): every valid ISO 8601 form is
answered, in range or not, with 200 or a 400 problem, never a database error. PostgreSQL refuses
UTC offsets beyond ±15:59, which ISO 8601 allows (schemathesis found `-17:26`), and some instants
at the calendar's edges have no UTC form."""

from __future__ import annotations

import pytest

from tests.conftest import Account, assert_problem

LISTS = [("/v1/todos", "updated_since"), ("/v1/notes", "updated_since"), ("/v1/files", "updated_since")]
LISTS += [("/v1/files", "created_since")]

IN_RANGE = [
    "0565-09-08T11:17:51-17:26",  # an offset PostgreSQL would refuse
    "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59+05:00",
    "2026-06-01T12:00:00",  # no offset: the server's zone
]
NO_UTC_FORM = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "name"), LISTS)
@pytest.mark.parametrize("value", IN_RANGE)
def test_an_instant_with_any_offset_is_answered(account: Account, url: str, name: str, value: str) -> None:
    response = account.client.get(url, {name: value})
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "name"), LISTS)
@pytest.mark.parametrize("value", NO_UTC_FORM)
def test_an_instant_without_a_utc_form_is_a_400(account: Account, url: str, name: str, value: str) -> None:
    assert_problem(account.client.get(url, {name: value}), 400, "validation_error")
