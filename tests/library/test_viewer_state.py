"""GET/PUT /v1/files/{id}/viewer-state: per-kind validation (the Readium Locator schema for
EPUBs), the 409 on older writes, the regression guard, jumps, per-device positions, history,
version/ETag, and "continue reading"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from tests.conftest import Account, assert_problem

from . import factories

pytestmark = pytest.mark.django_db
KINDLE = {"id": "kindle-1", "name": "Kindle"}
PHONE = {"id": "phone-7", "name": "Phone"}


def at(minute: int) -> str:
    return (
        (datetime(2026, 1, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=minute))
        .isoformat()
        .replace("+00:00", "Z")
    )


def locator(
    chapter: int = 1, progression: float = 0.5, total: float | None = None, **extra: Any
) -> dict[str, Any]:
    locations: dict[str, Any] = {"progression": progression, "position": chapter * 10}
    if total is not None:
        locations["totalProgression"] = total
    return {
        "href": f"OEBPS/text/ch{chapter}.xhtml",
        "type": "application/xhtml+xml",
        "title": f"Chapter {chapter}",
        "locations": {**locations, "partialCfi": "/4/2/8:120", "cssSelector": "#p12"},
        "text": {"before": "It was", "highlight": "a dark", "after": "and stormy night"},
        **extra,
    }


@pytest.fixture
def book(uploaded: Any) -> dict[str, Any]:
    return dict(uploaded(factories.epub_bytes(chapters=4), "book.epub"))


def put(account: Account, file: dict[str, Any], headers: dict[str, str] | None = None, **body: Any) -> Any:
    payload = {"device": KINDLE, "modified": at(0), **body}
    return account.client.put(
        f"/v1/files/{file['id']}/viewer-state", payload, format="json", **(headers or {})
    )


def test_empty_state(account: Account, book: dict[str, Any]) -> None:
    response = account.client.get(f"/v1/files/{book['id']}/viewer-state")
    assert response.status_code == 200
    assert response["ETag"] == '"0"'
    assert response.json() == {
        "file": book["id"],
        "kind": "epub",
        "current": None,
        "devices": [],
        "history": [],
        "version": 0,
        "updated_at": None,
    }


def test_epub_locator_is_stored_losslessly_with_version_and_etag(
    account: Account, book: dict[str, Any]
) -> None:
    sent = locator(2, 0.25, total=0.3, koboSpan="kobo.1.1")
    response = put(account, book, locator=sent, intent="jump")
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["applied"] is True
    assert body["reason"] is None
    assert body["version"] == 1
    assert body["current"]["locator"] == sent  # unknown keys kept (the Locator model allows them)
    assert body["current"]["device"] == KINDLE
    assert body["current"]["modified"] == at(0)
    assert body["current"]["intent"] == "jump"
    assert body["current"]["progress"] == pytest.approx(0.3)
    assert "pdf" not in body["current"]
    assert [d["device"]["id"] for d in body["devices"]] == ["kindle-1"]
    assert len(body["history"]) == 1
    got = account.client.get(f"/v1/files/{book['id']}/viewer-state")
    assert got["ETag"] == '"1"'
    assert {k: v for k, v in body.items() if k not in ("applied", "reason")} == got.json()


def test_older_write_is_409_with_the_current_state(account: Account, book: dict[str, Any]) -> None:
    put(account, book, locator=locator(2), modified=at(10))
    stale = put(account, book, locator=locator(3), modified=at(5), device=PHONE)
    body = assert_problem(stale, 409, "stale_viewer_state")
    assert body["current"]["current"]["locator"]["href"] == "OEBPS/text/ch2.xhtml"
    assert body["current"]["version"] == 1
    same_time = put(account, book, locator=locator(3), modified=at(10), device=PHONE)
    assert_problem(same_time, 409, "stale_viewer_state")
    # The very same write again (a retry after a lost response) is not an error.
    retry = put(account, book, locator=locator(2), modified=at(10))
    assert retry.status_code == 200
    assert retry.json()["version"] == 1


def test_regression_is_kept_per_device_and_does_not_move_the_current_position(
    account: Account, book: dict[str, Any]
) -> None:
    put(account, book, locator=locator(3, 0.5), modified=at(0))
    back = put(account, book, locator=locator(1, 0.9), modified=at(5), device=PHONE)
    assert back.status_code == 200
    body = back.json()
    assert body["applied"] is False
    assert body["reason"] == "regression"
    assert body["current"]["locator"]["href"] == "OEBPS/text/ch3.xhtml"
    assert body["current"]["device"] == KINDLE
    assert body["version"] == 2
    devices = {d["device"]["id"]: d for d in body["devices"]}
    assert devices["phone-7"]["locator"]["href"] == "OEBPS/text/ch1.xhtml"
    assert devices["kindle-1"]["locator"]["href"] == "OEBPS/text/ch3.xhtml"
    assert body["history"][0]["applied"] is False
    assert body["history"][0]["reason"] == "regression"
    # Progress is ranked through the spine when totalProgression is absent: ch1 @ 0.9 < ch3 @ 0.5.
    assert devices["phone-7"]["progress"] == pytest.approx((0 + 0.9) / 4)
    assert devices["kindle-1"]["progress"] == pytest.approx((2 + 0.5) / 4)

    # The same move as a deliberate jump does replace it.
    jump = put(account, book, locator=locator(1, 0.9), modified=at(6), device=PHONE, intent="jump")
    assert jump.json()["applied"] is True
    assert jump.json()["current"]["locator"]["href"] == "OEBPS/text/ch1.xhtml"
    forward = put(account, book, locator=locator(4, 0.1), modified=at(7))
    assert forward.json()["applied"] is True
    assert forward.json()["current"]["device"] == KINDLE
    # A device's own older write is stale even if it is newer than the current position.
    put(account, book, locator=locator(1, 0.1), modified=at(20), device=PHONE)
    assert_problem(put(account, book, locator=locator(4, 0.5), modified=at(15), device=PHONE), 409)


def test_if_match(account: Account, book: dict[str, Any]) -> None:
    first = put(account, book, locator=locator(1), headers={"HTTP_IF_MATCH": '"0"'})
    assert first.status_code == 200
    assert_problem(
        put(account, book, locator=locator(2), modified=at(1), headers={"HTTP_IF_MATCH": '"0"'}), 412
    )
    assert (
        put(account, book, locator=locator(2), modified=at(1), headers={"HTTP_IF_MATCH": '"1"'}).status_code
        == 200
    )


@override_settings(VIEWER_STATE_HISTORY_KEPT=3)
def test_history_keeps_the_last_n_writes(account: Account, book: dict[str, Any]) -> None:
    for minute in range(6):
        put(account, book, locator=locator(1, minute / 10), modified=at(minute))
    history = account.client.get(f"/v1/files/{book['id']}/viewer-state").json()["history"]
    assert [entry["version"] for entry in history] == [6, 5, 4]
    assert history[0]["locator"]["locations"]["progression"] == 0.5


@pytest.mark.parametrize(
    ("position", "field"),
    [
        ({"type": "application/xhtml+xml", "locations": {"progression": 0.1}}, "locator"),
        ({**locator(), "locations": {"progression": 1.5}}, "locator.locations.progression"),
        ({**locator(), "locations": {"progression": 0.2, "position": 0}}, "locator.locations.position"),
        (
            {**locator(), "locations": {"progression": 0.2, "totalProgression": -1}},
            "locator.locations.totalProgression",
        ),
        (
            {**locator(), "locations": {"progression": 0.2, "fragments": "page=1"}},
            "locator.locations.fragments",
        ),
        ({**locator(), "href": 7}, "locator.href"),
        ({**locator(), "text": "not an object"}, "locator.text"),
        ({**locator(), "locations": {"position": 3}}, "locator.locations.progression"),
        ({**locator(), "href": "OEBPS/text/missing.xhtml"}, "locator.href"),
        ({**locator(), "href": "https://elsewhere.example/ch1.xhtml"}, "locator.href"),
        ({**locator(), "text": {"before": "x" * 20000}}, "locator"),
        ("a string", "locator"),
    ],
)
def test_epub_locator_validation(account: Account, book: dict[str, Any], position: Any, field: str) -> None:
    body = assert_problem(put(account, book, locator=position), 400, "validation_error")
    assert field in body["errors"], body["errors"]


def test_locator_href_forms_that_match_the_book(account: Account, book: dict[str, Any]) -> None:
    for minute, href in enumerate(["/OEBPS/text/ch1.xhtml", "text/ch1.xhtml#c1", "OEBPS/text/ch%31.xhtml"]):
        response = put(
            account, book, locator={**locator(1), "href": href}, modified=at(minute), intent="jump"
        )
        assert response.status_code == 200, (href, response.content)


def test_pdf_positions(account: Account, uploaded: Any) -> None:
    pdf = uploaded(factories.pdf_bytes(pages=10), "p.pdf")
    ok = put(
        account,
        pdf,
        pdf={
            "page": 5,
            "zoom": 1.5,
            "scroll_x": 0,
            "scroll_y": 120.5,
            "rotation": 90,
            "totalProgression": 0.45,
        },
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["current"]["pdf"]["page"] == 5
    assert ok.json()["current"]["pdf"]["totalProgression"] == 0.45  # kept as sent ...
    assert ok.json()["current"]["progress"] == 0.5  # ... but the page says how far (5 of 10)
    back = put(account, pdf, pdf={"page": 2}, modified=at(1), device=PHONE)
    assert back.json()["applied"] is False
    assert back.json()["devices"][0]["progress"] == 0.2
    for wrong, field in [
        ({"page": 11}, "pdf.page"),
        ({"page": 0}, "pdf.page"),
        ({"zoom": 2}, "pdf"),
        ({"page": 1, "rotation": 45}, "pdf.rotation"),
        ({"page": 1, "zoom": 0}, "pdf.zoom"),
        ({"page": 1, "colour": "red"}, "pdf"),
    ]:
        body = assert_problem(put(account, pdf, pdf=wrong, modified=at(2)), 400, "validation_error")
        assert field in body["errors"], (wrong, body["errors"])
    body = assert_problem(put(account, pdf, locator=locator(), modified=at(2)), 400)
    assert "locator" in body["errors"]


def test_image_positions_never_regress(account: Account, uploaded: Any) -> None:
    image = uploaded(factories.image_bytes("WEBP"), "i.webp")
    first = put(account, image, image={"zoom": 2.0, "pan_x": 10, "pan_y": -4.5, "rotation": 180})
    assert first.status_code == 200
    assert first.json()["current"]["progress"] is None
    second = put(account, image, image={"zoom": 1}, modified=at(1), device=PHONE)
    assert second.json()["applied"] is True
    assert_problem(put(account, image, image={"pan_x": "left"}, modified=at(2)), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"modified": at(0)},
        {"locator": locator(), "pdf": {"page": 1}},
        {"locator": locator(), "intent": "rewind"},
        {"locator": locator(), "device": {"name": "no id"}},
        {"locator": locator(), "modified": "yesterday"},
    ],
)
def test_request_shape_validation(account: Account, book: dict[str, Any], body: dict[str, Any]) -> None:
    payload = {"device": KINDLE, "modified": at(0), **body}
    if "locator" not in body and "pdf" not in body:
        payload.pop("locator", None)
    response = account.client.put(f"/v1/files/{book['id']}/viewer-state", payload, format="json")
    assert_problem(response, 400, "validation_error")


def test_a_clock_far_ahead_is_refused(account: Account, book: dict[str, Any]) -> None:
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = assert_problem(put(account, book, locator=locator(), modified=future), 400, "validation_error")
    assert "modified" in body["errors"]


def test_continue_reading_lists_files_by_recent_viewer_activity(account: Account, uploaded: Any) -> None:
    first = uploaded(factories.epub_bytes(chapters=4), "first.epub")
    second = uploaded(factories.pdf_bytes(pages=4), "second.pdf")
    uploaded(factories.image_bytes("PNG"), "never opened.png")
    put(account, first, locator=locator(2, 0.0, total=0.25), modified=at(0))
    put(account, second, pdf={"page": 3}, modified=at(1))
    listed = account.client.get("/v1/files", {"ordering": "-last_opened"}).json()["results"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]
    assert listed[0]["progress"] == 0.75  # page 3 of 4
    assert listed[1]["progress"] == pytest.approx(0.25)
    assert listed[0]["last_opened"] is not None
    put(account, first, locator=locator(3, 0.0, total=0.5), modified=at(2))
    again = account.client.get("/v1/files", {"ordering": "-last_opened", "limit": 1}).json()
    assert [item["id"] for item in again["results"]] == [first["id"]]
    following = account.client.get(again["next"]).json()["results"]
    assert [item["id"] for item in following] == [second["id"]]
    detail = account.client.get(f"/v1/files/{first['id']}").json()
    assert detail["progress"] == pytest.approx(0.5)
    assert detail["version"] == 1  # viewer activity is not a change of the file's metadata
