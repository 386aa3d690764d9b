"""What answers outside the apps' routes: `/` says what this is, and any other path under /v1/ is
404 problem+json, with DEBUG on (`make run`, whose 404 would otherwise be Django's HTML page
listing every URL pattern) and off."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.conftest import assert_problem

UNKNOWN = ["/v1", "/v1/", "/v1/nope", "/v1/todos/not-a-uuid", "/v1/todos/lists/nope/x", "/v1/users/me/"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_paths_are_problem_json(debug: bool) -> None:
    client = Client(raise_request_exception=False)
    with override_settings(DEBUG=debug):
        for path in UNKNOWN:
            for method in ("get", "post", "delete"):
                response = getattr(client, method)(path, HTTP_ACCEPT=BROWSER)
                assert_problem(response, 404, "not_found")
                assert b"urlpatterns" not in response.content, path


@pytest.mark.parametrize("debug", [True, False])
def test_the_root_says_what_this_is_and_links_the_docs(debug: bool, tmp_path: Path) -> None:
    """To programs always; to a browser when the web client is not built (tests/test_web.py)."""
    client = Client()
    with override_settings(DEBUG=debug, STATICFILES_DIRS=[], STATIC_ROOT=str(tmp_path)):
        page = client.get("/", HTTP_ACCEPT=BROWSER)
        answer = client.get("/")  # curl, an API client: no preference for HTML
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "ExampleApp API" in html
    for link in ('href="/v1/docs"', 'href="/v1/redoc"', 'href="/v1/schema"'):
        assert link in html
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["links"] == {"docs": "/v1/docs", "redoc": "/v1/redoc", "schema": "/v1/schema"}
    assert "Accept" in page["Vary"]
