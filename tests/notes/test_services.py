"""Service paths the API cannot reach on demand: a create racing another with the same id, and
a database refusing a search vector."""

from __future__ import annotations

import uuid

import pytest
from django.db import OperationalError

from apps.common.errors import ApplicationError, Conflict
from apps.notes import services
from apps.notes.models import Note
from tests.notes.conftest import create_note

pytestmark = pytest.mark.django_db


def test_a_create_that_loses_the_insert_race_answers_like_a_retry(account, monkeypatch):
    note = create_note(account, title="raced")
    owner_id = uuid.UUID(account.id)
    # The other request committed between our existence check and our insert: the insert hits
    # the primary key, and the service decides as for a retry.
    calls = []
    real = services._note_with_id

    def first_misses(note_id):
        calls.append(note_id)
        return None if len(calls) == 1 else real(note_id)

    monkeypatch.setattr(services, "_note_with_id", first_misses)
    same, created = services.note_create(
        owner_id=owner_id, fields={"title": "raced"}, note_id=uuid.UUID(note["id"])
    )
    assert (created, str(same.id), len(calls)) == (False, note["id"], 2)
    calls.clear()
    with pytest.raises(Conflict) as raised:
        services.note_create(owner_id=owner_id, fields={"title": "other"}, note_id=uuid.UUID(note["id"]))
    assert raised.value.code == "id_conflict"
    assert Note.objects.filter(id=note["id"]).count() == 1


class _ProgramLimitExceeded(Exception):
    sqlstate = "54000"


def test_a_refused_search_vector_is_a_400_not_a_500():
    error = OperationalError("string is too long for tsvector")
    error.__cause__ = _ProgramLimitExceeded()
    with pytest.raises(ApplicationError) as raised, services._indexable():
        raise error
    assert (raised.value.status, raised.value.code) == (400, "note_not_indexable")
    other = OperationalError("connection lost")
    with pytest.raises(OperationalError), services._indexable():
        raise other
