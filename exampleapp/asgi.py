"""ASGI entry point: the events process (`manage.py events`, uvicorn) serves the live sync
stream from it, and `make run` the whole app; production settings unless told otherwise.

Django's own handler runs each request's synchronous code (the middleware, DRF's views) in a
thread of that request's own for as long as the request lives (asgiref's ThreadSensitiveContext),
and that thread keeps its database connection. For a stream that lives for hours, that is a
thread and a PostgreSQL connection per open stream: a thousand streams exhausted PostgreSQL's
connections in the bench. Here every request's synchronous code runs in asgiref's one shared
thread instead, one request's step after another: the events process does only short
synchronous work there (authenticating, the limits), so that costs nothing measurable, and the
process holds one database connection for it however many streams are open. The hub's feed
position reads and re-checks have threads (and connections) of their own (apps/sync/hub.py), so
that a new stream's first event never waits in this thread's queue.
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleapp.settings.production")


class SharedThreadASGIHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)


django.setup(set_prefix=False)
application: Any = SharedThreadASGIHandler()
if settings.DEBUG:
    # `make run`: static files (the admin's, the API docs') as runserver served them.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
