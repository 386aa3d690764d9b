"""S3_PUBLIC_ENDPOINT_URL: presigned URLs are signed for the address clients use, while the app
keeps talking to S3 at S3_ENDPOINT_URL. Here both are the same SeaweedFS, reached under two host
names (127.0.0.1 for the app, localhost for the "public" side), so a URL only works if it was
signed for the host it is sent to."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from tests.conftest import Account

from . import factories
from .conftest import http, initiate, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_endpoint() -> str:
    internal = urlsplit(os.environ["S3_ENDPOINT_URL"])
    assert internal.hostname == "127.0.0.1"
    return f"{internal.scheme}://localhost:{internal.port}"


def _host(url: str) -> str:
    return str(urlsplit(url).netloc)


def test_download_and_part_urls_are_signed_for_the_public_endpoint(
    account: Account, public_endpoint: str
) -> None:
    data = factories.image_bytes("PNG")
    file = upload(account.client, data, name="photo.png").json()
    pdf = factories.pdf_bytes(title="public endpoint")
    with override_settings(S3_PUBLIC_ENDPOINT_URL=public_endpoint):
        location = account.client.get(f"/v1/files/{file['id']}/content")["Location"]
        started = initiate(account, pdf, name="b.pdf")
    assert started.status_code == 201, started.content
    job = started.json()["upload"]
    assert _host(location) == _host(public_endpoint)
    status, headers, body = http("GET", location)
    assert (status, body) == (200, data)
    assert headers["Cache-Control"] == "private"  # whatever edge sits at the public endpoint
    # Signed for the public host: the same URL sent to the internal address is refused.
    internal = location.replace(_host(public_endpoint), _host(os.environ["S3_ENDPOINT_URL"]))
    assert http("GET", internal)[0] == 403

    [part] = job["part_urls"]
    assert _host(part["url"]) == _host(public_endpoint)
    assert http("PUT", part["url"], pdf)[0] == 200
    done = account.client.post(f"/v1/files/uploads/{job['id']}/complete")
    assert done.status_code == 201, done.content


def test_without_it_urls_use_the_app_endpoint(account: Account) -> None:
    file = upload(account.client, factories.image_bytes("PNG"), name="photo.png").json()
    location = account.client.get(f"/v1/files/{file['id']}/content")["Location"]
    assert _host(location) == _host(os.environ["S3_ENDPOINT_URL"])
