"""The Django admin over lists and tasks: search, filters, and edits that keep versions right."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from apps.identity.models import User
from apps.todos.admin import SHORT_TEXT
from apps.todos.models import Task, TaskList
from tests.conftest import Account

from .conftest import make_task


@pytest.fixture
def admin_client(staff_account: Account) -> Client:
    User.objects.filter(id=staff_account.id).update(is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(id=staff_account.id))
    return client


def test_changelists_search_and_filter(admin_client: Client, account: Account, inbox: dict[str, Any]) -> None:
    make_task(account, inbox, title="Findable needle", due="2025-01-01", done=True)
    for url, params in (
        ("/admin/todos/task/", {}),
        ("/admin/todos/task/", {"q": "needle"}),
        ("/admin/todos/task/", {"q": account.email}),
        (
            "/admin/todos/task/",
            {"done__exact": "1", "deleted": "no", "has_due": "date", "priority__exact": "0"},
        ),
        ("/admin/todos/task/", {"has_due": "none", "deleted": "yes"}),
        ("/admin/todos/tasklist/", {"q": "Inbox", "archived__exact": "0", "deleted": "no"}),
    ):
        response = admin_client.get(url, params)
        assert response.status_code == 200, (url, params)
    assert b"Findable needle" in admin_client.get("/admin/todos/task/", {"q": "needle"}).content


def test_change_and_delete_keep_the_bookkeeping(
    admin_client: Client, account: Account, inbox: dict[str, Any]
) -> None:
    task = make_task(account, inbox, title="before")
    url = f"/admin/todos/task/{task['id']}/change/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"title": "after", "notes": "staff note", "priority": "2", **_inline_management()}
    )
    assert response.status_code == 302, response.content[:2000]
    row = Task.objects.get(id=task["id"])
    assert (row.title, row.version) == ("after", 2)
    assert row.field_versions["title"] == row.field_versions["notes"] == row.field_versions["priority"] == 2
    assert row.field_versions["due"] == 1

    response = admin_client.post(f"/admin/todos/tasklist/{inbox['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert TaskList.objects.get(id=inbox["id"]).deleted_at is not None  # a tombstone, not a hard delete
    assert Task.objects.get(id=task["id"]).deleted_at is not None


def _inline_management() -> dict[str, str]:
    prefix = "completions"
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_task_changelist_shows_due_as_the_api_does(
    admin_client: Client, account: Account, inbox: dict[str, Any]
) -> None:
    """`due` in its wire form (a date, or a date-time in the offset it was written with), the
    admin's empty mark when there is none; few columns, so the list fits a 1366 px screen; the
    site says ExampleApp."""
    dated = make_task(account, inbox, title="All-day", due="2026-12-24")
    zoned = make_task(account, inbox, title="Zoned", due="2026-12-24T09:00:00+01:00")
    make_task(account, inbox, title="Whenever")
    page = admin_client.get("/admin/todos/task/").content.decode()
    assert '<td class="field-due">2026-12-24</td>' in page
    assert '<td class="field-due">2026-12-24T09:00:00+01:00</td>' in page
    assert '<td class="field-due">-</td>' in page  # no due: the admin's empty mark
    for wrong in ("9999", "midnight", "08:00", "due sort", "DUE SORT"):
        assert wrong not in page, wrong
    assert _columns(page) == [
        "short_title",
        "owner_email",
        "task_list",
        "done",
        "priority",
        "due",
        "tombstone",
    ]
    assert "<title>Select task to change | ExampleApp admin</title>" in page
    assert "ExampleApp administration" in page

    for task, wire in ((dated, "2026-12-24"), (zoned, "2026-12-24T09:00:00+01:00")):
        detail = admin_client.get(f"/admin/todos/task/{task['id']}/change/").content.decode()
        assert f'<div class="readonly">{wire}</div>' in detail
        assert "9999" not in detail
        assert "Due sort" not in detail
        # Beside done and completed_at, as in the API, not after every stored field.
        assert detail.index("<label>Completed at:</label>") < detail.index("<label>Due:</label>")
        assert detail.index("<label>Due:</label>") < detail.index("<label>Tags:</label>")
    assert "Staff administration" in admin_client.get("/admin/").content.decode()


def _columns(page: str) -> list[str]:
    return re.findall(r'<th scope="col" class="(?:sortable )?column-(\w+)', page)


def test_changelists_fit_a_1366_px_screen(
    admin_client: Client, account: Account, inbox: dict[str, Any]
) -> None:
    """Checked in Chromium at 1366x768: neither changelist scrolls sideways with the filters
    beside it, whatever the titles, names and addresses. What that rests on, short of a browser:
    no model sidebar, few columns, long texts cut short, text columns free to wrap (no `nowrap`
    cell, and the stylesheet that wraps words without a break in them, such as URLs)."""
    long_title = " ".join(["word"] * 100)  # 499 characters
    url_title = "Read https://example.com/" + "a" * 200
    long_name = " ".join(["name"] * 40)  # 199
    tasklist = account.client.post("/v1/todos/lists", {"name": long_name}, format="json").json()
    for title in (long_title, url_title):
        make_task(account, tasklist, title=title, due="2026-12-24T09:00:00+01:00")

    for url, most, texts in (
        ("/admin/todos/task/", 7, ("short_title", "owner_email", "task_list")),
        ("/admin/todos/tasklist/", 6, ("short_name", "owner_email")),
    ):
        page = admin_client.get(url).content.decode()
        assert 'id="nav-sidebar"' not in page
        assert len(_columns(page)) <= most
        assert "/static/todos/admin.css" in page
        for column in texts:
            cells = re.findall(rf'<t[dh] class="field-{column}( nowrap)?">(?:<a [^>]*>)?([^<]*)', page)
            assert cells, column
            for nowrap, text in cells:
                assert not nowrap, column
                assert len(html.unescape(text)) <= SHORT_TEXT, (column, text)

    stylesheet = finders.find("todos/admin.css")
    assert stylesheet is not None
    css = Path(stylesheet).read_text()
    for column in ("short_title", "short_name", "task_list", "owner_email"):
        assert f".field-{column}" in css
    assert "overflow-wrap: anywhere" in css
