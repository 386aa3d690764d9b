"""Production settings refuse an insecure environment and pass `check --deploy` with a good one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k" * 20 + "Zq9-xP2_mN4!vB7@cD1#eF5$gH8%jL3^"


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "api.example.org"}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "api.example.org"}, "SECRET_KEY is weak"),
        (
            {"SECRET_KEY": "django-insecure-" + "a1b2c3d4" * 8, "ALLOWED_HOSTS": "api.example.org"},
            "SECRET_KEY is weak",
        ),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "api.example.org", "DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS is empty"),
    ],
)
def test_production_refuses_insecure_environment(env, message):
    result = _run(["check"], **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_bad_typed_value_names_the_variable():
    result = _run(["check"], SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="x.org", PORT="eighty")
    assert result.returncode != 0
    assert "PORT must be an integer" in result.stderr


def test_check_deploy_is_clean_with_a_proper_environment():
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="api.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_hashes_passwords_with_argon2():
    code = (
        "import django; django.setup();"
        "from django.contrib.auth.hashers import make_password;"
        "print(make_password('x'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production",
            "SECRET_KEY": GOOD_KEY,
            "ALLOWED_HOSTS": "x.org",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.startswith("argon2$argon2id$"), result.stderr


def test_embedded_defaults_need_no_services(tmp_path):
    """`make run`'s settings: SQLite, local files and an in-process cache with no variables."""
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'],"
        " s.STORAGES['default']['BACKEND'], s.REPLICA_DATABASES)"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DATABASE_REPLICA_URLS", "REDIS_URL", "S3_BUCKET"}
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "exampleapp.settings.local", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.files.storage.FileSystemStorage",
        "[]",
    ], result.stderr


def test_make_run_shows_every_request_on_the_console(tmp_path):
    """runserver logs each request (successful ones at INFO) to django.server: `make run`'s
    settings let them through to the console, once; the other profiles keep WARNING."""
    code = (
        "import django, logging; django.setup();"
        "logging.getLogger('django.server').info('\"GET /v1/todos HTTP/1.1\" 200 42')"
    )
    env = {**os.environ, "VAR_DIR": str(tmp_path), "LOG_FORMAT": "text"}
    for profile, shown in (("local", True), ("test", False)):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": f"exampleapp.settings.{profile}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        line = '"GET /v1/todos HTTP/1.1" 200 42'
        assert result.stderr.count(line) == (1 if shown else 0), (profile, result.stderr)  # once
        if shown:
            assert f"INFO django.server [-] {line}" in result.stderr  # the console's format


# --- Static files behind a CDN (STATIC_HOST) ----------------------------------------------------

# Run in a process of its own with production settings: where pages link static files, and what
# whitenoise answers for one of them at the pod's /static/.
_STATIC_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.templatetags.static import static
from django.test import Client
client = Client()
url = static("admin/css/base.css")
served = client.get("/static/" + url.split("/static/", 1)[1], secure=True)
print(json.dumps({
    "url": url,
    "admin": client.get("/admin/login/", secure=True).content.decode(),
    "docs": client.get("/v1/docs", secure=True).content.decode(),
    "status": served.status_code,
    "headers": dict(served.headers),
    "bytes": len(b"".join(served.streaming_content)) if served.status_code == 200 else 0,
}))
"""


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """collectstatic as the image's build runs it: production settings, no STATIC_HOST."""
    root = tmp_path_factory.mktemp("static")
    result = _run(
        ["collectstatic", "--noinput", "-v0"],
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="x.org",
        STATIC_ROOT=str(root),
    )
    assert result.returncode == 0, result.stderr
    return root


def _static_probe(static_root: Path, **env: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    result = subprocess.run(
        [sys.executable, "-c", _STATIC_PROBE],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "exampleapp.settings.production",
            "SECRET_KEY": GOOD_KEY,
            "ALLOWED_HOSTS": "testserver",
            "STATIC_ROOT": str(static_root),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe: dict[str, Any] = json.loads(result.stdout)
    return probe


@pytest.mark.parametrize("host", ["", "https://static.example.com"])
def test_static_files_are_linked_at_static_host_and_served_at_static(
    collected_static: Path, host: str
) -> None:
    """The image's manifest (hashed names, built without STATIC_HOST) is used as it is: STATIC_HOST
    only changes the host pages link, and the pods keep serving /static/ for the CDN to pull."""
    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert hashed != "admin/css/base.css"

    probe = _static_probe(collected_static, STATIC_HOST=host)

    assert probe["url"] == f"{host}/static/{hashed}"
    assert f'href="{host}/static/{hashed}"' in probe["admin"]  # the admin's pages
    sidecar = manifest["drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"]
    assert f"{host}/static/{sidecar}" in probe["docs"]  # Swagger UI at /v1/docs
    # whitenoise at the pod's /static/, whatever the host: what a CDN fetches and keeps.
    assert probe["status"] == 200
    assert probe["bytes"] == (collected_static / hashed).stat().st_size
    assert probe["headers"]["Cache-Control"] == "max-age=315360000, public, immutable"
    assert probe["headers"]["Access-Control-Allow-Origin"] == "*"  # fonts from another origin
    assert probe["headers"]["Vary"] == "Accept-Encoding"  # a gzip copy exists: caches key on it


@pytest.mark.parametrize(
    "value",
    [
        "https://cdn.example.com/assets",
        "https://cdn.example.com/?v=1",
        "https://user:pass@cdn.example.com",
        "ftp://cdn.example.com",
        "cdn.example.com",
        "https://cdn.example.com:port",
    ],
)
def test_static_host_must_be_an_origin(value: str) -> None:
    result = _run(["check"], SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="x.org", STATIC_HOST=value)
    assert result.returncode != 0
    assert "STATIC_HOST must be an origin such as https://cdn.example.com" in result.stderr


def test_production_wants_static_host_on_https() -> None:
    result = _run(["check"], SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="x.org", STATIC_HOST="http://cdn.example.com")
    assert result.returncode != 0
    assert "STATIC_HOST must be an https:// origin" in result.stderr
    fine = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="x.org",
        STATIC_HOST="https://cdn.example.com/",
    )
    assert fine.returncode == 0, fine.stderr + fine.stdout
