"""The test suite: real services from the environment `make test` prepares (see scripts/devservices.py).

Without those variables the suite refuses to start (tests/conftest.py says how to run it): every
test runs against the real services, none is skipped for want of one.
"""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, REDIS_URL, REPLICA_DATABASES

SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-signing-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Argon2 stays the production hasher; tests use a cheap one so the suite stays quick
# (one test checks that production settings hash with Argon2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Ordinary tests run inside a transaction the replica never sees; the router tests that use
# the real replica turn reads on with override_settings and commit their data.
REPLICA_READS_ENABLED = False
for _alias in REPLICA_DATABASES:
    DATABASES[_alias]["TEST"] = {"MIRROR": "default"}
# Many registrations come from one test client address; the ceiling has its own test.
AUTH_IP_RATE = "100000/hour"

# Parallel test workers share one Redis: give each its own database so flushes stay private.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _worker.startswith("gw"):
    CACHES["default"]["LOCATION"] = REDIS_URL.rsplit("/", 1)[0] + f"/{int(_worker[2:]) + 1}"

# Fixed scratch folders (not one new folder per settings import): tests store files on S3 or in
# their own tmp_path; these only need to exist.
_SCRATCH = Path(tempfile.gettempdir()) / "exampleapp-tests"
STATIC_ROOT = str(_SCRATCH / "static")
MEDIA_ROOT = str(_SCRATCH / "media")
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
Path(MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
