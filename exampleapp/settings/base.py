"""Settings shared by every environment, read from the environment with embedded defaults.

No DATABASE_URL means SQLite, no REDIS_URL means an in-process cache and no S3_BUCKET means
local files, so `make run` needs no services. production.py adds the checks that refuse an
insecure configuration.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from boto3.s3.transfer import TransferConfig

from .env import env_bool, env_float, env_int, env_list, env_origin, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# Local settings override this with a fixed development key; production refuses weak keys.
SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
PORT = env_int("PORT", 8000, minimum=1)
# A second port gunicorn listens on, serving only /metrics (which the app's port then refuses);
# 0: /metrics on the app's port (local development). The manifests set 9100.
METRICS_PORT = env_int("METRICS_PORT", 0, minimum=0)

INSTALLED_APPS = [
    # Django's admin with its sign-in under the API's limits (apps/identity/admin_site.py).
    "apps.identity.apps.ExampleAppAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "storages",
    "apps.common",
    "apps.identity",
    "apps.sync",
    "apps.todos",
    "apps.notes",
    "apps.library",
    "apps.portability",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.common.middleware.RequestIdMiddleware",
    "apps.common.middleware.MetricsPortMiddleware",
    "apps.common.middleware.UnstorableURLMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.common.web.StaticFilesMiddleware",  # whitenoise
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Above the router's middleware: its process_exception (retry on the primary) runs first.
    "apps.common.middleware.DatabaseUnavailableMiddleware",
    "exampleapp.db_router.ReplicaRoutingMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "exampleapp.urls"
WSGI_APPLICATION = "exampleapp.wsgi.application"
APPEND_SLASH = False  # canonical API paths have no trailing slash

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------
# Persistent connections matter: a new TCP + SCRAM handshake per request costs more than most
# of our queries (figures: docs/benchmarks.md).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)


_MULTI_HOST_URL = re.compile(
    r"^(?P<head>postgres(?:ql)?://(?:[^@/]*@)?)(?P<hosts>[^/?]*,[^/?]*)(?P<tail>.*)$"
)


def _split_hosts(url: str) -> tuple[str, tuple[str, str] | None]:
    """libpq multi-host URLs (`postgresql://u:p@db1:5432,db2:5432/app?target_session_attrs=
    read-write`) name several servers; dj-database-url reads one. Returns the URL with one
    placeholder host and the comma lists of hosts and ports, which libpq takes as they are."""
    match = _MULTI_HOST_URL.match(url)
    if match is None:
        return url, None
    hosts, ports = [], []
    for netloc in match["hosts"].split(","):
        host, _, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
        if not host or not port.isdigit():  # no port given: the whole item is the host
            host, port = netloc, "5432"
        hosts.append(host.strip("[]"))
        ports.append(port)
    return f"{match['head']}multi-host{match['tail']}", (",".join(hosts), ",".join(ports))


def _database(url: str) -> dict:
    url, multi_host = _split_hosts(url)
    config: dict = dj_database_url.parse(  # type: ignore[assignment]
        url, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
    )
    if multi_host is not None:
        config["HOST"], config["PORT"] = multi_host
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        # A dead server must fail fast so the router can fall back instead of hanging.
        options.setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1))
        # Behind PgBouncer in transaction pooling, named server-side cursors break.
        config["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_PGBOUNCER", False)
    return config


DATABASES = {
    # An empty DATABASE_URL counts as unset.
    "default": _database(env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
REPLICA_DATABASES: list[str] = []
# A comma separates replicas only where a new URL starts: a multi-host URL keeps its commas.
_REPLICA_URLS = re.split(r",\s*(?=[a-z][a-z0-9+.-]*://)", env_str("DATABASE_REPLICA_URLS").strip())
for _index, _url in enumerate([u.strip() for u in _REPLICA_URLS if u.strip()], start=1):
    _alias = f"replica{_index}"
    DATABASES[_alias] = _database(_url)
    REPLICA_DATABASES.append(_alias)

DATABASE_ROUTERS = ["exampleapp.db_router.PrimaryReplicaRouter"]
# Read-your-writes: after a write, that user's reads stay on the primary this long.
READ_YOUR_WRITES_SECONDS = env_float("READ_YOUR_WRITES_SECONDS", 5.0)
# A replica further behind than this is skipped until it catches up.
REPLICA_MAX_LAG_SECONDS = env_float("REPLICA_MAX_LAG_SECONDS", 10.0)
# How often each process re-measures replica health, and how long a failed replica is benched.
REPLICA_CHECK_INTERVAL_SECONDS = env_float("REPLICA_CHECK_INTERVAL_SECONDS", 5.0)
REPLICA_COOLDOWN_SECONDS = env_float("REPLICA_COOLDOWN_SECONDS", 15.0)
# Tests that do not commit their data turn replica reads off (see settings/test.py).
REPLICA_READS_ENABLED = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Redis) ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # Redis down must degrade, not break: cache calls then behave as misses.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 0.5),
                "SOCKET_TIMEOUT": env_float("REDIS_TIMEOUT", 0.5),
                # Once Redis failed, skip it for REDIS_RETRY_SECONDS (apps/common/cache.py).
                "REDIS_CLIENT_CLASS": "apps.common.cache.CircuitBreakerRedis",
            },
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "exampleapp"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "exampleapp",
        }
    }
# The circuit breaker logs an outage once; a traceback per ignored call cost more than Redis saves.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 2.0)
# Each process keeps session state in memory for at most this long, and only while its Redis
# pub/sub subscription is healthy (apps/common/near_cache.py); 0 turns that off. Without Redis
# it is off anyway.
NEAR_CACHE_SECONDS = env_float("NEAR_CACHE_SECONDS", 5.0)

# --- Storage ---------------------------------------------------------------------------------
S3_BUCKET = env_str("S3_BUCKET")
# Where clients reach S3, when the app reaches it elsewhere (an in-cluster service name):
# presigned download and part-upload URLs are signed for this endpoint. Empty: S3_ENDPOINT_URL.
S3_PUBLIC_ENDPOINT_URL = env_str("S3_PUBLIC_ENDPOINT_URL")
# The web client's origins (https://app.example.org): `manage.py s3_cors` gives the bucket a
# CORS rule for them, so the page can read presigned downloads and PUT direct-upload parts.
S3_CORS_ORIGINS = env_list("S3_CORS_ORIGINS")
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
# Static files (the admin's, the API docs') are baked into the image by collectstatic with
# hashed names and served by whitenoise at /static/ with far-future, immutable cache headers.
# STATIC_HOST puts a CDN in front of them: the origin (scheme and host) of a CDN that fetches
# /static/... from this app, e.g. https://static.example.com. Pages then link
# https://static.example.com/static/<hashed name>; the manifest (names to hashed names) is the
# image's, whatever the host, and without STATIC_HOST the app's own /static/ is linked.
STATIC_HOST = env_origin("STATIC_HOST")
STATIC_URL = f"{STATIC_HOST}/static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# Where the pods serve static files does not follow where clients fetch them: always /static/,
# the path the CDN pulls from (whitenoise would otherwise take the path of STATIC_URL).
WHITENOISE_STATIC_PREFIX = "/static/"
# The web client's build (`npm run build` in web/, docs/web.md), collected under /static/web/.
# Listed only when built: a checkout without Node.js serves the API alone, and the image keeps
# only the collected copy.
WEB_DIST = BASE_DIR / "web" / "dist"
STATICFILES_DIRS = [("web", str(WEB_DIST))] if WEB_DIST.is_dir() else []
if S3_BUCKET:
    _default_storage: dict = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "region_name": env_str("S3_REGION", "us-east-1"),
            # S3-compatible servers (MinIO, SeaweedFS) have no wildcard DNS for bucket hosts.
            "addressing_style": env_str("S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_expire": env_int("S3_URL_EXPIRE_SECONDS", 300, minimum=1),
            # boto3's default transfer keeps 10 threads x 8 MiB parts in flight per upload
            # (~140 MiB of worker memory for one large file); one part at a time keeps a
            # streamed upload's memory flat and was no slower against S3-compatible servers.
            "transfer_config": TransferConfig(use_threads=False),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Identity --------------------------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
# Django's own authenticate() (the admin's sign-in) goes through the API's lockout.
AUTHENTICATION_BACKENDS = ["apps.identity.backends.SignInGateBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)
# Failed logins: after this many failures inside the window, the account (or IP) is locked
# until the window ends. Successful logins and registrations only meet AUTH_IP_RATE.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
AUTH_IP_RATE = env_str("AUTH_IP_RATE", "500/hour")
# Deleting the account needs a password proved this recently in the session (sign-in or
# POST /v1/auth/reauthenticate).
REAUTHENTICATION_SECONDS = env_int("REAUTHENTICATION_SECONDS", 300, minimum=30)
# Number of proxies in front of the app whose X-Forwarded-For entries are trusted.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("ACCESS_TOKEN_SECONDS", 300, minimum=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("REFRESH_TOKEN_DAYS", 30, minimum=1)),
    "ALGORITHM": "HS256",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
# A refresh token presented again this soon after it was exchanged is a retry whose answer was
# lost (a reload mid-refresh, a dropped connection), answered with a new pair; later, or any
# older token, is a replay and ends the session (docs/identity.md, "Refresh tokens").
REFRESH_RETRY_SECONDS = env_int("REFRESH_RETRY_SECONDS", 30, minimum=0)
if env_str("JWT_SIGNING_KEY"):  # otherwise simplejwt signs with SECRET_KEY
    SIMPLE_JWT["SIGNING_KEY"] = env_str("JWT_SIGNING_KEY")

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ExampleApp <no-reply@example.invalid>")
# Where the password-reset e-mail sends people (a client page that posts uid + token back).
PASSWORD_RESET_URL = env_str(
    "PASSWORD_RESET_URL", "https://app.example.invalid/reset-password?uid={uid}&token={token}"
)

# --- REST framework and schema ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.identity.authentication.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.common.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "apps.common.schema.OwnDocsSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.common.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.common.errors.problem_exception_handler",
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ExampleApp API",
    "DESCRIPTION": "Todos, notes and a reading library kept in sync across devices.\n\n"
    "Every string in a request (bodies, query parameters, paths) is Unicode text without NUL "
    "characters or unpaired surrogates: PostgreSQL cannot store them, so a body or query "
    "carrying one is refused with 400 `invalid_text` (in a sync push, only that operation is "
    "rejected) and a path with one is 404. JSON bodies nest at most 32 levels (400 "
    "`json_too_deep`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # "* `applied` - applied" under every enum says nothing the enum does not.
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "ENUM_NAME_OVERRIDES": {
        "PushActionEnum": "apps.sync.api.serializers.PUSH_ACTIONS",
        "TaskBulkActionEnum": ["complete", "reopen", "move", "delete"],
        "ErrorCodeEnum": "apps.common.errors.ERROR_CODES",
        "JobStatusEnum": "apps.portability.models.Job.Status",
        "StreamClosingReasonEnum": "apps.sync.api.events.CLOSING_REASONS",
    },
    # The Accept header every kosync request must carry (apps/library/kosync/protocol.py): one
    # named enum, so a generated client has one type for it rather than one per operation.
    "APPEND_COMPONENTS": {
        "schemas": {
            "KosyncAcceptEnum": {
                "type": "string",
                "enum": ["application/vnd.koreader.v1+json", "application/json"],
            }
        }
    },
    "PREPROCESSING_HOOKS": ["apps.common.schema.drop_trailing_slash_aliases"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.schema.problem_media_type",
        "apps.common.schema.defaults_in_descriptions",
        "apps.common.schema.documented_headers",
        "apps.sync.api.schema.discriminated_sync_unions",
    ],
}

# --- CORS ------------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = ["ETag", "X-Request-ID", "Retry-After"]

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: JSON lines with the request id --------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.common.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "text") else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},  # 4xx are answers, not incidents
        "django.server": {"level": "WARNING"},
        # At DEBUG, botocore logs every request with its body: a 16 MiB part of an export or an
        # upload became a ~64 MiB string per request (a worker at LOG_LEVEL=DEBUG peaked at 560
        # MiB instead of 195). Their INFO says what matters (retries, credentials).
        "botocore": {"level": "INFO"},
        "s3transfer": {"level": "INFO"},
        "urllib3": {"level": "INFO"},
    },
}

# Request bodies: JSON is small; uploads stream through their own handlers later.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
# A list page (GET /v1/notes, /v1/todos) also ends at this many bytes of its rows' text (one row at
# least; `next` goes on): a page of large notes is never read or built whole.
LIST_MAX_BYTES = env_int("LIST_MAX_BYTES", 8 * 1024 * 1024, minimum=64 * 1024)
# JSON bodies nested deeper than this are refused (400 json_too_deep; apps/common/parsers.py).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32, minimum=8)

# --- Todos and notes -------------------------------------------------------------------------
# Deleted objects stay as tombstones (for the sync feed) this long; `purge_tombstones` removes
# older ones, and a sync cursor older than this must resync.
TOMBSTONE_RETENTION_DAYS = env_int("TOMBSTONE_RETENTION_DAYS", 30, minimum=1)
NOTE_BODY_MAX_BYTES = env_int("NOTE_BODY_MAX_BYTES", 1024 * 1024, minimum=1024)
NOTE_REVISIONS_KEPT = env_int("NOTE_REVISIONS_KEPT", 50, minimum=1)

# --- Library ---------------------------------------------------------------------------------
FILE_UPLOAD_MAX_BYTES = env_int("FILE_UPLOAD_MAX_BYTES", 2 * 1024**3, minimum=1024)
USER_STORAGE_QUOTA_BYTES = env_int("USER_STORAGE_QUOTA_BYTES", 10 * 1024**3, minimum=0)
DIRECT_UPLOAD_PART_BYTES = env_int("DIRECT_UPLOAD_PART_BYTES", 16 * 1024**2, minimum=5 * 1024**2)
DIRECT_UPLOAD_URL_EXPIRE_SECONDS = env_int("DIRECT_UPLOAD_URL_EXPIRE_SECONDS", 900, minimum=60)
UPLOAD_STALE_HOURS = env_int("UPLOAD_STALE_HOURS", 24, minimum=1)
EPUB_MAX_ENTRIES = env_int("EPUB_MAX_ENTRIES", 10000, minimum=1)
EPUB_MAX_UNCOMPRESSED_BYTES = env_int("EPUB_MAX_UNCOMPRESSED_BYTES", 1024**3, minimum=1024)
EPUB_MAX_COMPRESSION_RATIO = env_int("EPUB_MAX_COMPRESSION_RATIO", 100, minimum=1)
VIEWER_STATE_HISTORY_KEPT = env_int("VIEWER_STATE_HISTORY_KEPT", 20, minimum=1)
# CPU-seconds the type/structure checks of one file may take, and again its metadata extraction
# (apps/library/deadline.py); 0 turns the limit off.
FILE_INSPECTION_CPU_SECONDS = max(0.0, env_float("FILE_INSPECTION_CPU_SECONDS", 20.0))
# CPU-seconds drawing one file's cover may take (apps/library/covers.py); over it the file
# has no cover (404 no_cover), decided once. 0 turns the limit off.
COVER_CPU_SECONDS = max(0.0, env_float("COVER_CPU_SECONDS", 5.0))
# Streamed uploads spool to temporary files above this size instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
# Identity calls these by name, so it does not import the library (which builds on identity).
ACCOUNT_DELETED_HOOKS = [
    "apps.library.services.library_purge_user",
    "apps.portability.services.portability_purge_user",
]
# The parts of the one storage quota (USER_STORAGE_QUOTA_BYTES; apps/common/quota.py).
STORAGE_USAGE = {
    "files": "apps.library.selectors.file_storage_usage",
    "notes": "apps.notes.selectors.note_storage_usage",
}

# --- Sync ------------------------------------------------------------------------------------
SYNC_PUSH_MAX_OPS = env_int("SYNC_PUSH_MAX_OPS", 100, minimum=1)
SYNC_PULL_MAX_LIMIT = env_int("SYNC_PULL_MAX_LIMIT", 1000, minimum=1)
# A pull page also ends at this much JSON (at least one change per page; `has_more` says the
# rest): a page of large notes is never built in memory whole.
SYNC_PULL_MAX_BYTES = env_int("SYNC_PULL_MAX_BYTES", 8 * 1024 * 1024, minimum=64 * 1024)
# How long push results are remembered by op_id (retries must come within this window).
SYNC_OP_RETENTION_DAYS = env_int("SYNC_OP_RETENTION_DAYS", 7, minimum=1)
# The live stream (GET /v1/sync/events, served by the events process; docs/sync.md).
# A comment line every EVENTS_HEARTBEAT_SECONDS keeps an idle stream open through proxies whose
# idle timeout is 60 s (NGINX's default proxy-read-timeout, most cloud load balancers).
EVENTS_HEARTBEAT_SECONDS = env_float("EVENTS_HEARTBEAT_SECONDS", 20.0)
# Streams per account and per process (each process counts its own): past them 429
# `too_many_streams` / 503 `events_full`. A person has a few devices, each with one stream.
EVENTS_MAX_PER_USER = env_int("EVENTS_MAX_PER_USER", 10, minimum=1)
EVENTS_MAX_CONNECTIONS = env_int("EVENTS_MAX_CONNECTIONS", 10000, minimum=1)
# How often a client told to fall back (Redis down) should poll /v1/sync/changes.
EVENTS_POLL_SECONDS = env_int("EVENTS_POLL_SECONDS", 30, minimum=1)
# Every this often each events process re-reads the feed position of every connected account
# (one query) and re-checks every stream's session: the safety net under the pub/sub messages.
EVENTS_SWEEP_SECONDS = env_float("EVENTS_SWEEP_SECONDS", 30.0)
# Registration over KOReader's protocol (POST /v1/sync/kosync/users/create); off by default:
# accounts are made through /v1/auth/register and the kosync key is set on /v1/users/me.
KOSYNC_REGISTRATION_ENABLED = env_bool("KOSYNC_REGISTRATION_ENABLED", False)
# Hooks run by `purge_tombstones` after it removed old tombstone rows (dotted paths).
TOMBSTONE_PURGE_HOOKS = ["apps.sync.services.change_tombstones_purge"]

# --- Export and import of an account (apps/portability; docs/export.md) ----------------------
# A finished export can be downloaded this long; then the worker deletes its archive.
EXPORT_RETENTION_HOURS = env_int("EXPORT_RETENTION_HOURS", 72, minimum=1)
# Exports and imports one user may start per 24 hours (429 beyond): each reads or writes the
# whole account. One at a time in any case.
EXPORTS_PER_DAY = env_int("EXPORTS_PER_DAY", 4, minimum=1)
IMPORTS_PER_DAY = env_int("IMPORTS_PER_DAY", 4, minimum=1)
# An export streams to S3 in parts of this size: the worker holds one part in memory.
EXPORT_PART_BYTES = env_int("EXPORT_PART_BYTES", 16 * 1024 * 1024, minimum=5 * 1024 * 1024)
# Archives an import takes: at most this large, this many entries, this much once expanded, and
# no large entry expanding more than this ratio (zip bombs).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 2 * 1024**3, minimum=1024 * 1024)
IMPORT_MAX_ENTRIES = env_int("IMPORT_MAX_ENTRIES", 100_000, minimum=16)
IMPORT_MAX_UNCOMPRESSED_BYTES = env_int("IMPORT_MAX_UNCOMPRESSED_BYTES", 16 * 1024**3, minimum=1024 * 1024)
IMPORT_MAX_COMPRESSION_RATIO = env_int("IMPORT_MAX_COMPRESSION_RATIO", 200, minimum=2)
# Run export and import jobs in a thread of the process that queued them instead of leaving
# them to the worker (`manage.py portability_worker`): `make run` needs no second process.
PORTABILITY_RUN_IN_PROCESS = env_bool("PORTABILITY_RUN_IN_PROCESS", False)
# The worker touches this file while it is alive (its liveness probe reads the file's age);
# empty: no file.
PORTABILITY_WORKER_HEARTBEAT = env_str("PORTABILITY_WORKER_HEARTBEAT")
