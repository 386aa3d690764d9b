"""`make run`: a developer's machine with no services (SQLite, local files, in-process cache)."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import LOGGING, SECRET_KEY, STATIC_ROOT, VAR_DIR, env_bool, env_list

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = SECRET_KEY or "local-development-key-never-used-in-production-0123456789"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
VAR_DIR.mkdir(parents=True, exist_ok=True)
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# No worker process here: an export or import runs in a thread of the server that queued it.
PORTABILITY_RUN_IN_PROCESS = env_bool("PORTABILITY_RUN_IN_PROCESS", True)
# runserver logs every request to django.server at INFO: show them on the console (base keeps
# WARNING: under gunicorn its access log records the requests). Its own handler, not propagated:
# Django's default logging also prints the `django` logger's records in DEBUG (twice otherwise).
LOGGING["loggers"]["django.server"] = {"level": "INFO", "handlers": ["console"], "propagate": False}
