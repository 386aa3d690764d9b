"""ASGI entry point: the events process (`manage.py events`, uvicorn) serves the live sync
stream from it, and `make run` the whole app; production settings unless told otherwise."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleapp.settings.production")

application = get_asgi_application()
if settings.DEBUG:
    # `make run`: static files (the admin's, the API docs') as runserver served them.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
