"""The admin site: Django's, branded ExampleApp, with its sign-in under the API's limits.

Every POST to the admin's login page meets the per-address ceiling (AUTH_IP_RATE) first; the
password check itself goes through backends.SignInGateBackend (the API's lockout). Either limit
answers 429 with Retry-After and the login page saying why, instead of another 200.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework.exceptions import Throttled

from .throttling import ceiling_allows


class AdminSite(admin.AdminSite):
    site_header = "ExampleApp administration"
    site_title = "ExampleApp admin"
    index_title = "Staff administration"
    # No model sidebar: at 1366 px it takes ~340 px beside the changelist's filters and leaves a
    # changelist ~700 px, so its columns scroll sideways. The index and the breadcrumbs reach
    # every model.
    enable_nav_sidebar = False

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            refused = ceiling_allows(request)
            if refused is not None:
                return self._throttled(request, refused)
            try:
                return super().login(request, extra_context)
            except Throttled as exc:
                return self._throttled(request, exc)
        return super().login(request, extra_context)

    def _throttled(self, request: HttpRequest, exc: Throttled) -> HttpResponse:
        context = {
            **self.each_context(request),
            "title": "Log in",
            "site_header": self.site_header,
            "form": (self.login_form or AdminAuthenticationForm)(request),  # empty: to try again later
            "app_path": request.get_full_path(),
            "throttled_detail": exc.detail,
        }
        response = TemplateResponse(request, "admin/login_throttled.html", context, status=429)
        wait = getattr(exc, "wait", None) or 1
        response["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response
