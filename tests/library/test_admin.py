"""The staff admin over files, uploads and viewer states: lists with search and filters, detail
pages, and a delete that goes through the service (object removed, tombstone kept)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.identity.models import User
from apps.library.models import File, Upload, ViewerState
from tests.conftest import Account

from . import factories
from .conftest import object_size, sha256, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    staff = User.objects.create_superuser("admin@example.org", "a long admin password")
    client = Client()
    client.force_login(staff)
    return client


def test_admin_pages(admin_client: Client, account: Account) -> None:
    data = factories.epub_bytes()
    file = upload(account.client, data, filename="Admin book.epub").json()
    account.client.put(
        f"/v1/files/{file['id']}/viewer-state",
        {
            "device": {"id": "d", "name": "Reader"},
            "modified": "2026-01-01T00:00:00Z",
            "locator": {
                "href": "OEBPS/text/ch1.xhtml",
                "type": "application/xhtml+xml",
                "locations": {"progression": 0.2},
            },
        },
        format="json",
    )
    account.client.post(
        "/v1/files/uploads",
        {"name": "x.pdf", "size": 10, "sha256": sha256(b"x"), "content_type": "application/pdf"},
        format="json",
    )
    state = ViewerState.objects.get(file_id=file["id"])
    pending = Upload.objects.get(owner_id=account.id)
    pages = [
        "/admin/library/file/",
        "/admin/library/file/?q=Admin",
        f"/admin/library/file/?q={file['sha256']}",
        "/admin/library/file/?kind__exact=epub&status__exact=ready",
        "/admin/library/file/?deleted_at__isempty=1",
        f"/admin/library/file/{file['id']}/change/",
        "/admin/library/upload/",
        "/admin/library/upload/?status__exact=pending&q=x.pdf",
        f"/admin/library/upload/{pending.id}/change/",
        "/admin/library/viewerstate/",
        "/admin/library/viewerstate/?kind__exact=epub&q=Reader",
        f"/admin/library/viewerstate/{state.id}/change/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    assert b"Admin book.epub" in admin_client.get("/admin/library/file/?q=Admin").content


def test_admin_delete_goes_through_the_service(
    admin_client: Client, account: Account, django_capture_on_commit_callbacks: Any
) -> None:
    file = upload(account.client, factories.pdf_bytes()).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/library/file/", {"action": "delete_files", "_selected_action": [file["id"]]}
        )
    assert response.status_code == 302
    assert File.objects.get(id=file["id"]).deleted_at is not None
    assert object_size(file["id"]) is None
