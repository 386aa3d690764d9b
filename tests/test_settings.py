"""Production settings refuse an insecure environment and pass `check --deploy` with a good one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
