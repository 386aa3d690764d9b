"""The progress model (docs/api.md, "Progress"): one meaning per kind whichever protocol wrote
the position — PDF `page / page_count`, EPUB the total progression — truncated to 4 decimals
like KOReader's percentage, in every answer (viewer state, files list, sync, kosync); the
regression guard compares these numbers."""

from __future__ import annotations

import hashlib
import importlib
import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection

from apps.library.models import KosyncProgress, ViewerDevicePosition, ViewerState, ViewerStateEntry
from apps.library.viewer import validation as viewer
from tests.conftest import Account
from tests.sync.helpers import op, push

from . import factories
from .conftest import upload

pytestmark = pytest.mark.django_db
KOSYNC = "/v1/sync/kosync"
KOSYNC_PASSWORD = "ko pass"
WEB = {"id": "web-1", "name": "Web reader"}


def truncated(value: Fraction) -> float:
    """The model's rounding, computed exactly: 4 decimals, truncated."""
    return math.floor(value * 10_000) / 10_000


def decimals(value: float) -> int:
    text = repr(value)
    assert "e" not in text, text
    return len(text.split(".")[1]) if "." in text else 0


def at(minute: int) -> str:
    return (datetime(2026, 1, 1, 10, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def _upload(account: Account, data: bytes, name: str) -> dict[str, Any]:
    response = upload(account.client, data, name)
    assert response.status_code == 201, response.content
    return dict(response.json())


_kosync_headers: dict[str, dict[str, str]] = {}


def _koreader(account: Account) -> dict[str, str]:
    """KOReader's headers for `account` (its kosync password set once)."""
    if account.id not in _kosync_headers:
        response = account.client.patch(
            "/v1/users/me", {"kosync_password": KOSYNC_PASSWORD, "current_password": account.password}
        )
        assert response.status_code == 200
        _kosync_headers[account.id] = {
            "HTTP_ACCEPT": "application/vnd.koreader.v1+json",
            "HTTP_X_AUTH_USER": account.email,
            "HTTP_X_AUTH_KEY": hashlib.md5(KOSYNC_PASSWORD.encode(), usedforsecurity=False).hexdigest(),
        }
    return _kosync_headers[account.id]


def rest_put(account: Account, file: dict[str, Any], minute: int = 0, **body: Any) -> dict[str, Any]:
    payload = {"device": WEB, "modified": at(minute), **body}
    response = account.client.put(f"/v1/files/{file['id']}/viewer-state", payload, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def kosync_put(account: Account, file: dict[str, Any], progress: str, percentage: float) -> None:
    body = {
        "document": file["koreader_hash"],
        "progress": progress,
        "percentage": percentage,
        "device": "Kobo",
        "device_id": "K0B0",
    }
    response = account.client.put(f"{KOSYNC}/syncs/progress", body, format="json", **_koreader(account))
    assert response.status_code == 200, response.content


def answers(account: Account, file: dict[str, Any]) -> dict[str, Any]:
    """The progress of `file` in every answer that carries it."""
    state = account.client.get(f"/v1/files/{file['id']}/viewer-state").json()
    listed = account.client.get("/v1/files", {"ordering": "-last_opened"}).json()["results"]
    kosync = account.client.get(f"{KOSYNC}/syncs/progress/{file['koreader_hash']}", **_koreader(account))
    changes = account.client.get("/v1/sync/changes", {"cursor": "", "limit": 1000}).json()["changes"]
    [change] = [c for c in changes if c["type"] == "viewer_state" and c["id"] == file["id"]]
    return {
        "current": state["current"]["progress"],
        "devices": [d["progress"] for d in state["devices"]],
        "history": [h["progress"] for h in state["history"]],
        "files list": next(item["progress"] for item in listed if item["id"] == file["id"]),
        "file": account.client.get(f"/v1/files/{file['id']}").json()["progress"],
        "sync feed": change["data"]["current"]["progress"],
        "kosync percentage": kosync.json()["percentage"],
    }


def same_everywhere(found: dict[str, Any], expected: float) -> None:
    flat = {
        (name, i): value
        for name, got in found.items()
        for i, value in enumerate(got if isinstance(got, list) else [got])
    }
    assert flat == dict.fromkeys(flat, expected), found


@pytest.mark.parametrize(("pages", "page"), [(5, 3), (100, 29), (5, 5), (12, 7), (3, 1)])
def test_a_pdf_page_has_one_progress_whichever_protocol_wrote_it(
    make_account: Any, pages: int, page: int
) -> None:
    expected = truncated(Fraction(page, pages))
    data = factories.pdf_bytes(pages=pages)
    by_rest, by_push, by_kosync = make_account(), make_account(), make_account()

    rest_file = _upload(by_rest, data, "paper.pdf")
    rest_put(by_rest, rest_file, pdf={"page": page})
    same_everywhere(answers(by_rest, rest_file), expected)

    push_file = _upload(by_push, data, "paper.pdf")
    [pushed] = push(
        by_push,
        op("viewer_state", push_file["id"], device=WEB, modified=at(0), intent="advance", pdf={"page": page}),
    )
    assert pushed["data"]["current"]["progress"] == expected
    same_everywhere(answers(by_push, push_file), expected)

    kosync_file = _upload(by_kosync, data, "paper.pdf")
    # What KOReader sends for that page: floor(page / pages * 10000) / 10000 (29/100 → 0.2899).
    kosync_put(by_kosync, kosync_file, str(page), math.floor(page / pages * 10_000) / 10_000)
    same_everywhere(answers(by_kosync, kosync_file), expected)


@pytest.mark.parametrize(
    ("chapters", "chapter", "progression", "expected"),
    [(4, 4, 0.8, 0.95), (3, 2, 0.2, 0.4), (3, 3, 0.1, 0.7), (7, 3, 0.5, 0.3571)],
)
def test_an_epub_position_has_one_progress_whichever_protocol_wrote_it(
    make_account: Any, chapters: int, chapter: int, progression: float, expected: float
) -> None:
    data = factories.epub_bytes(chapters=chapters)
    by_rest, by_kosync = make_account(), make_account()

    rest_file = _upload(by_rest, data, "book.epub")
    href = rest_file["metadata"]["spine"][chapter - 1]
    locator = {"href": href, "type": "application/xhtml+xml", "locations": {"progression": progression}}
    rest_put(by_rest, rest_file, locator=locator)
    same_everywhere(answers(by_rest, rest_file), expected)

    kosync_file = _upload(by_kosync, data, "book.epub")
    kosync_put(by_kosync, kosync_file, f"/body/DocFragment[{chapter}]/body/p[1]/text().0", expected)
    same_everywhere(answers(by_kosync, kosync_file), expected)
    current = by_kosync.client.get(f"/v1/files/{kosync_file['id']}/viewer-state").json()["current"]
    assert current["locator"]["href"] == href
    # The chapter's progression is estimated from KOReader's percentage: rounded too
    # (0.95 in the 4th of 4 chapters was 0.7999999999999998).
    assert current["locator"]["locations"]["progression"] == truncated(
        Fraction(str(expected)) * chapters - (chapter - 1)
    )
    assert current["locator"]["locations"]["totalProgression"] == expected


@pytest.mark.parametrize("pages", [1, 3, 7, 29])
def test_every_page_answers_at_most_four_decimals(account: Account, pages: int) -> None:
    file = _upload(account, factories.pdf_bytes(pages=pages), "paper.pdf")
    for page in range(1, pages + 1):
        body = rest_put(account, file, minute=page, pdf={"page": page})
        progress = body["current"]["progress"]
        assert progress == truncated(Fraction(page, pages))
        assert decimals(progress) <= 4
        kosync = account.client.get(f"{KOSYNC}/syncs/progress/{file['koreader_hash']}", **_koreader(account))
        assert kosync.json()["percentage"] == progress
    assert progress == 1.0  # the last page is the whole document


def test_progress_of_every_pdf_page_and_epub_place_is_truncated_to_four_decimals() -> None:
    for pages in range(1, 301):
        previous = 0.0
        for page in range(1, pages + 1):
            got = viewer.progress_of("pdf", {"page": page}, {"page_count": pages})
            assert got == truncated(Fraction(page, pages)), (page, pages)
            assert decimals(got) <= 4
            assert got >= previous
            previous = got
        assert previous == 1.0
    for length in range(1, 41):
        spine = [f"OEBPS/c{n}.xhtml" for n in range(length)]
        for index, href in enumerate(spine):
            for twentieths in range(21):
                progression = twentieths / 20
                position = {"href": href, "locations": {"progression": progression}}
                got = viewer.progress_of("epub", position, {"spine": spine})
                exact = (index + Fraction(repr(progression))) / length
                assert got == truncated(exact), (index, progression, length)
                assert decimals(got) <= 4


def test_koreaders_percentages_are_kept_exactly_and_others_truncated(account: Account) -> None:
    # Every value KOReader can send (4 decimals, truncated) comes back as it was sent ...
    for steps in range(10_001):
        assert viewer.progress_round(steps / 10_000) == steps / 10_000
    # ... and through the protocol, for a document that is no library file, too.
    headers = _koreader(account)
    for sent, kept in [(0.4217, 0.4217), (0.7999999999999998, 0.8), (1 / 3, 0.3333), (0.99999, 0.9999)]:
        body = {
            "document": "f" * 32,
            "progress": "12",
            "percentage": sent,
            "device": "Kobo",
            "device_id": "K",
        }
        assert (
            account.client.put(f"{KOSYNC}/syncs/progress", body, format="json", **headers).status_code == 200
        )
        got = account.client.get(f"{KOSYNC}/syncs/progress/{'f' * 32}", **headers).json()
        assert got["percentage"] == kept


def test_the_same_pdf_page_from_rest_after_koreader_is_no_regression(account: Account) -> None:
    file = _upload(account, factories.pdf_bytes(pages=5), "paper.pdf")
    kosync_put(account, file, "3", 0.6)
    assert account.client.get(f"/v1/files/{file['id']}/viewer-state").json()["current"]["progress"] == 0.6
    now = datetime.now(UTC)
    same = rest_put(account, file, modified=now.isoformat(), pdf={"page": 3})
    assert (same["applied"], same["reason"]) == (True, None)
    back = rest_put(account, file, modified=(now + timedelta(seconds=1)).isoformat(), pdf={"page": 2})
    assert (back["applied"], back["reason"]) == (False, "regression")
    assert back["current"]["progress"] == 0.6
    ahead = rest_put(account, file, modified=(now + timedelta(seconds=2)).isoformat(), pdf={"page": 5})
    assert ahead["applied"] is True
    assert ahead["current"]["progress"] == 1.0


def test_the_migration_restates_stored_progress_in_the_model(make_account: Any) -> None:
    reader = make_account()
    pdf = _upload(reader, factories.pdf_bytes(pages=5), "paper.pdf")
    epub = _upload(reader, factories.epub_bytes(chapters=3), "book.epub")
    rest_put(reader, pdf, pdf={"page": 3})
    rest_put(
        reader,
        epub,
        locator={
            "href": epub["metadata"]["spine"][1],
            "type": "application/xhtml+xml",
            "locations": {"progression": 0.2},
        },
    )
    kosync_put(reader, {"koreader_hash": "e" * 32}, "7", 0.5)
    # As the old model stored them: PDF (page - 1) / page_count, EPUB and KOReader unrounded.
    for model in (ViewerState, ViewerDevicePosition, ViewerStateEntry):
        field = "viewer_state__file_id" if model is not ViewerState else "file_id"
        model.objects.filter(**{field: pdf["id"]}).update(progress=0.4)
        model.objects.filter(**{field: epub["id"]}).update(progress=1.2 / 3)
    KosyncProgress.objects.filter(owner_id=reader.id).update(percentage=0.7999999999999998)

    migration = importlib.import_module("apps.library.migrations.0003_progress_model")
    migration.forwards(django_apps, SimpleNamespace(connection=connection))

    same_everywhere(answers(reader, pdf), 0.6)
    state = reader.client.get(f"/v1/files/{epub['id']}/viewer-state").json()
    assert [state["current"]["progress"], state["devices"][0]["progress"]] == [0.4, 0.4]
    assert KosyncProgress.objects.get(owner_id=reader.id).percentage == 0.8
