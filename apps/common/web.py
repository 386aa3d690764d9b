"""The web client's page: the HTML shell that loads the Vite build of `web/` (docs/web.md).

Vite names every file it emits by its content hash (`web/assets/index-3fa1c2d4.js`), and writes
a manifest from entry to files. collectstatic copies the build under `web/` like any other static
file, so whitenoise serves it, with far-future `immutable` caching (`StaticFilesMiddleware`:
whitenoise only recognises the hashes Django adds itself) and through the CDN when STATIC_HOST
is set. Django's manifest storage leaves those names alone (`WebManifestStaticFilesStorage`):
hashing an already hashed name again would only break the chunks' relative imports.

The shell itself is rendered here, from that manifest, on every request and never cached, so a
new deployment is picked up at the next load; it links the entry script and its CSS through
`staticfiles_storage.url` (STATIC_HOST included) and carries a strict Content-Security-Policy:
no inline script or style, scripts and styles only from this origin or the static host, API
calls only to this origin, no plugins; frames only from blob: URLs (the EPUB reader's chapters,
which inherit the policy, so a book's scripts never run).

When the client has not been built (Node.js missing on a developer's machine), `web_shell`
answers None and `/` keeps its informational page: the API works without the client.

`/sw.js` is the client's service worker, so a reload works offline too: it keeps the shell and
this build's files in the browser's cache (the list and a version come from the manifest, so
each deployment installs a new worker that drops the old files) and answers the page from the
network when it can, from that cache when it cannot. It must be served from `/` to control the
page at `/`; it never touches `/v1/` (the client's data lives in IndexedDB, not in HTTP caches).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Where the build lands among the static files, and the one entry the shell loads.
PREFIX = "web/"
MANIFEST = PREFIX + "manifest.json"
ENTRY = "src/main.tsx"
ASSETS = PREFIX + "assets/"


@dataclass(frozen=True)
class Entry:
    script: str
    styles: tuple[str, ...]
    preloads: tuple[str, ...]
    version: str  # of the build: changes with any file it names


def _manifest_path() -> Path | None:
    """The build's manifest: from web/dist when it is a static files directory (a checkout),
    else from STATIC_ROOT (the image, where only the collected files are kept)."""
    found = finders.find(MANIFEST)
    if isinstance(found, str):
        return Path(found)
    collected = Path(settings.STATIC_ROOT) / MANIFEST
    return collected if collected.is_file() else None


_cache: dict[tuple[str, float], Entry] = {}


def entry() -> Entry | None:
    path = _manifest_path()
    if path is None:
        return None
    key = (str(path), path.stat().st_mtime)
    if key not in _cache:  # read once per build, not per request
        manifest = json.loads(path.read_text())
        chunk = manifest[ENTRY]
        preloads = []
        for name in chunk.get("imports", []):  # static imports the entry waits for
            preloads.append(manifest[name]["file"])
        _cache.clear()
        _cache[key] = Entry(
            script=chunk["file"],
            styles=tuple(chunk.get("css", [])),
            preloads=tuple(preloads),
            version=hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        )
    return _cache[key]


# The only inline styles the page may apply, by their 'sha256-' hashes: the empty string (the two
# empty <style> elements foliate-js puts in each EPUB chapter; it is themed through
# adoptedStyleSheets instead) and foliate-js's own paginator stylesheet (the <style> of its shadow
# root, fixed text of the pinned version: tests/test_web.py recomputes it from web/node_modules).
EMPTY_STYLE = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
FOLIATE_STYLE = "sha256-Sz1WKGLvM24279JLTqw+ZwzznUautFgg7stEu8sEF84="

# Origins other than the page's own that the client may fetch from, each asked per page (a
# setting may change under tests). The library registers its storage's browser origin: common
# knows no domain app, so they tell it.
_connect_sources: list[Callable[[], str | None]] = []


def add_connect_source(source: Callable[[], str | None]) -> None:
    if source not in _connect_sources:
        _connect_sources.append(source)


def connect_origins() -> list[str]:
    return [origin for origin in (source() for source in _connect_sources) if origin]


def content_security_policy() -> str:
    static = f" {settings.STATIC_HOST}" if settings.STATIC_HOST else ""
    connect = "".join(f" {origin}" for origin in connect_origins())
    return "; ".join(
        [
            "default-src 'none'",
            # 'report-sample': a violation names what was blocked (the e2e tells the hostile
            # Markdown it feeds the sanitiser from anything of the page's own).
            f"script-src 'self'{static} 'report-sample'",
            # blob: for an EPUB's own stylesheets, and the two hashes above: any other inline
            # style (a book's own included) is refused. A chapter is a blob: document, so it
            # inherits this policy: its scripts never run.
            f"style-src 'self' blob:{static} '{EMPTY_STYLE}' '{FOLIATE_STYLE}' 'report-sample'",
            # data:/blob: for images a note's Markdown may embed inline; nothing from elsewhere
            # (an image URL in a note would otherwise tell a third party when it was read).
            f"img-src 'self' data: blob:{static}",
            f"font-src 'self' blob:{static}",  # blob: an EPUB's embedded fonts
            # Presigned S3 URLs: a file's bytes (the content route redirects there) and the
            # parts of a direct upload.
            f"connect-src 'self'{connect}",
            # The EPUB reader's chapters (foliate-js renders each from a blob: URL); no other frame.
            "frame-src blob:",
            # pdf.js parses in a worker from the build's assets; from a CDN it must start it
            # through a blob: wrapper (a worker is same-origin only).
            f"worker-src 'self'{static}{' blob:' if static else ''}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


def web_shell(request: HttpRequest) -> HttpResponse | None:
    found = entry()
    if found is None:
        return None
    url = staticfiles_storage.url
    response = render(
        request,
        "common/web.html",
        {
            "script": url(PREFIX + found.script),
            "styles": [url(PREFIX + name) for name in found.styles],
            "preloads": [url(PREFIX + name) for name in found.preloads],
        },
    )
    response["Content-Security-Policy"] = content_security_policy()
    # Always asked again: it names the current build's files, which change with each deployment.
    patch_cache_control(response, no_cache=True, private=True)
    return response


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    found = entry()
    if found is None:
        raise Http404("the web client is not built")
    url = staticfiles_storage.url
    files = [url(PREFIX + name) for name in (found.script, *found.styles, *found.preloads)]
    response = render(
        request,
        "common/sw.js",
        {"version": json.dumps(found.version), "files": json.dumps(files)},
        content_type="text/javascript; charset=utf-8",
    )
    static = f" {settings.STATIC_HOST}" if settings.STATIC_HOST else ""
    response["Content-Security-Policy"] = f"default-src 'none'; connect-src 'self'{static}"
    # Browsers check for a new worker on each visit; no cache in between may keep an old one.
    patch_cache_control(response, no_cache=True, private=True)
    return response


class WebManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's hashed, compressed storage, except for the web client's assets: Vite has
    hashed those names already, and its chunks import each other by those names."""

    def hashed_name(self, name: str, content: object = None, filename: str | None = None) -> str:
        if name.startswith(ASSETS):
            return name
        return super().hashed_name(name, content, filename)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """whitenoise, with the web client's Vite-hashed assets cached for good like Django's."""

    def immutable_file_test(self, path: str, url: str) -> bool:
        if url.startswith(self.static_prefix + ASSETS):
            return True
        return bool(super().immutable_file_test(path, url))
