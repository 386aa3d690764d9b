"""Test-only WSGI entry point for the graceful-shutdown test (never deployed).

The real application, plus `/__slow`: it records that it started (a file in
$SLOW_APP_STARTED_DIR), sleeps $SLOW_APP_SECONDS and then answers through Django's own
/healthz view. The test can thus hold requests in flight while it stops gunicorn, without
adding a route to the app.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment

from exampleapp.wsgi import application as django_application


def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/__slow":
        return django_application(environ, start_response)
    started_dir = os.environ.get("SLOW_APP_STARTED_DIR")
    if started_dir:
        (Path(started_dir) / uuid.uuid4().hex).touch()
    time.sleep(float(os.environ.get("SLOW_APP_SECONDS", "2")))
    environ["PATH_INFO"] = "/healthz"
    return django_application(environ, start_response)
