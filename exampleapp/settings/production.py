"""Production: everything from the environment, and refuse to start when it is insecure."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    ALLOWED_HOSTS,
    DEBUG,
    METRICS_PORT,
    PORT,
    SECRET_KEY,
    STATIC_HOST,
    STORAGES,
    env_bool,
    env_int,
)

_WEAK_PREFIXES = ("django-insecure", "changeme", "local-development-key", "test-secret-key")


def _require_secure_configuration() -> None:
    problems = []
    if not SECRET_KEY:
        problems.append("SECRET_KEY is not set")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith(_WEAK_PREFIXES):
        problems.append("SECRET_KEY is weak: use at least 50 random characters")
    if DEBUG:
        problems.append("DEBUG must be off in production")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS is empty: list the host names this API answers to")
    if METRICS_PORT == PORT:
        problems.append("METRICS_PORT must differ from PORT (it serves only /metrics)")
    if STATIC_HOST and not STATIC_HOST.startswith("https://"):
        # Browsers block http:// scripts and styles on an https:// page (mixed content).
        problems.append("STATIC_HOST must be an https:// origin")
    if problems:
        raise ImproperlyConfigured("Refusing to start: " + "; ".join(problems) + ".")


_require_secure_configuration()

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "apps.common.web.WebManifestStaticFilesStorage"},
}

# TLS ends at the ingress, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Probes and the metrics scraper talk plain HTTP to the pod.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Requests for static files on a CDN (STATIC_HOST) are cross-origin: they carry no Referer, so a
# CDN rule that filters by Referer (hotlink protection) would refuse them: leave it off.
SECURE_REFERRER_POLICY = "same-origin"
# The web client's page carries a strict Content-Security-Policy naming STATIC_HOST in
# script-src, style-src, img-src and font-src (apps/common/web.py); the admin and the API docs
# send none (their inline scripts would need it relaxed). Cross-Origin-Opener-Policy (Django's
# default same-origin) concerns windows, not subresources, and no Cross-Origin-Embedder-Policy is
# set, so the CDN's files load as they are; whitenoise sends Access-Control-Allow-Origin: * with
# them for the fetches that need CORS (fonts, and the web client's module scripts).
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
