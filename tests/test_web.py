"""`/` serves the web client's page (apps/common/web.py) when the client is built: the shell
linking the Vite build through the static files storage, never cached, with a strict
Content-Security-Policy that names STATIC_HOST when a CDN serves the static files; without a
build, the informational page. The client itself is tested in a browser (tests/web)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client, override_settings

from apps.common import web

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A stand-in build of web/ (the manifest Vite writes and the files it names)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "assets" / "main-AbC123.js").write_text("console.log('app')")
    (dist / "assets" / "main-DeF456.css").write_text("body{}")
    (dist / "assets" / "vendor-GhI789.js").write_text("export {}")
    manifest = {
        "src/main.tsx": {
            "file": "assets/main-AbC123.js",
            "isEntry": True,
            "css": ["assets/main-DeF456.css"],
            "imports": ["_vendor.js"],
        },
        "_vendor.js": {"file": "assets/vendor-GhI789.js"},
    }
    (dist / "manifest.json").write_text(json.dumps(manifest))
    return dist


def _page(static_host: str = "", **settings: object) -> object:
    with override_settings(STATIC_HOST=static_host, STATIC_URL=f"{static_host}/static/", **settings):
        return Client().get("/", HTTP_ACCEPT=BROWSER)


def test_the_root_serves_the_web_client_with_a_strict_policy(built: Path) -> None:
    page = _page(STATICFILES_DIRS=[("web", str(built))])
    assert page.status_code == 200
    html = page.content.decode()
    assert '<script type="module" src="/static/web/assets/main-AbC123.js" crossorigin></script>' in html
    assert 'href="/static/web/assets/main-DeF456.css"' in html
    assert '<link rel="modulepreload" href="/static/web/assets/vendor-GhI789.js"' in html
    for inline in ("<script>", "<style", " style="):  # nothing inline
        assert inline not in html
    policy = page["Content-Security-Policy"]
    assert "script-src 'self' 'report-sample';" in policy
    # blob: stylesheets and empty <style> elements (the EPUB reader), nothing else inline
    styles = f"style-src 'self' blob: '{web.EMPTY_STYLE}' '{web.FOLIATE_STYLE}' 'report-sample';"
    assert styles in policy
    assert "unsafe-inline" not in policy
    assert "frame-src blob:;" in policy  # the EPUB reader's chapters, which inherit this policy
    assert "worker-src 'self';" in policy  # pdf.js's worker, from the build
    assert "unsafe-eval" not in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "no-cache" in page["Cache-Control"]
    assert "Accept" in page["Vary"]


def test_a_cdn_is_in_the_policy_and_the_links(built: Path) -> None:
    page = _page("https://static.example.com", STATICFILES_DIRS=[("web", str(built))])
    html = page.content.decode()
    assert 'src="https://static.example.com/static/web/assets/main-AbC123.js"' in html
    policy = page["Content-Security-Policy"]
    for directive in ("script-src", "style-src", "img-src", "font-src"):
        assert f"{directive} 'self'" in policy
        assert "https://static.example.com" in policy.split(f"{directive} ", 1)[1].split(";")[0]
    assert "https://static.example.com" not in _directive(policy, "connect-src")  # never the CDN
    # a worker is same-origin only: pdf.js starts the CDN's through a blob: wrapper
    assert "worker-src 'self' https://static.example.com blob:;" in policy


def _directive(policy: str, name: str) -> list[str]:
    return policy.split(f"{name} ", 1)[1].split(";")[0].split()


def test_the_page_may_fetch_from_s3_presigned_urls_and_nothing_else(built: Path) -> None:
    """connect-src is the page's origin plus where presigned URLs point (downloads follow the
    content route's redirect there; direct uploads PUT parts there): the public endpoint when
    one is set. With local storage the bytes come from the page's origin: 'self' alone."""
    internal = urlsplit(os.environ["S3_ENDPOINT_URL"])
    page = _page(STATICFILES_DIRS=[("web", str(built))])
    assert _directive(page["Content-Security-Policy"], "connect-src") == [
        "'self'",
        f"{internal.scheme}://{internal.netloc}",
    ]
    public = f"{internal.scheme}://localhost:{internal.port}"
    page = _page(STATICFILES_DIRS=[("web", str(built))], S3_PUBLIC_ENDPOINT_URL=public)
    assert _directive(page["Content-Security-Policy"], "connect-src") == ["'self'", public]
    local = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    page = _page(STATICFILES_DIRS=[("web", str(built))], STORAGES={**settings.STORAGES, **local})
    assert _directive(page["Content-Security-Policy"], "connect-src") == ["'self'"]


def test_without_a_build_the_root_still_says_what_this_is(tmp_path: Path) -> None:
    page = _page(STATICFILES_DIRS=[], STATIC_ROOT=str(tmp_path))
    assert page.status_code == 200
    assert "Content-Security-Policy" not in page
    assert 'href="/v1/docs"' in page.content.decode()


def test_vite_assets_keep_their_names_in_the_manifest_storage() -> None:
    storage = web.WebManifestStaticFilesStorage()
    assert storage.hashed_name("web/assets/main-AbC123.js") == "web/assets/main-AbC123.js"


def test_the_service_worker_keeps_this_build(built: Path) -> None:
    with override_settings(STATICFILES_DIRS=[("web", str(built))]):
        worker = Client().get("/sw.js")
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("text/javascript")
    assert "no-cache" in worker["Cache-Control"]
    script = worker.content.decode()
    files = '["/static/web/assets/main-AbC123.js", "/static/web/assets/main-DeF456.css", '
    assert files + '"/static/web/assets/vendor-GhI789.js"]' in script
    assert "/v1/" not in script  # the API is never cached by it


def test_no_service_worker_without_a_build(tmp_path: Path) -> None:
    with override_settings(STATICFILES_DIRS=[], STATIC_ROOT=str(tmp_path)):
        assert Client().get("/sw.js").status_code == 404


def _style_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_inline_styles_allowed_are_the_empty_one_and_foliates_own() -> None:
    """The policy's style hashes match what they stand for: a foliate-js upgrade that changes
    its paginator's stylesheet fails here (and would fail in the browser) until updated."""
    assert _style_hash("") == web.EMPTY_STYLE
    paginator = Path(__file__).resolve().parents[1] / "web/node_modules/foliate-js/paginator.js"
    # `make test` installs the client's packages before pytest: missing is a broken setup, not
    # a reason to leave the policy's hash unchecked.
    assert paginator.is_file(), "web/node_modules is missing: `make test` installs it (npm ci)"
    source = paginator.read_text()
    start = source.index("this.#root.innerHTML = `<style>") + len("this.#root.innerHTML = `<style>")
    css = source[start : source.index("</style>", start)]
    assert "${" not in css  # fixed text, so one hash covers it
    assert _style_hash(css) == web.FOLIATE_STYLE
