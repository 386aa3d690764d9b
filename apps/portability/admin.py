"""Export and import jobs for staff: read-only (the worker owns their state)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "owner", "created_at", "finished_at", "archive_size", "attempts"]
    list_filter = ["kind", "status", "created_at"]
    search_fields = ["id", "owner__email", "worker"]
    readonly_fields = [field.name for field in Job._meta.fields]
    list_select_related = ["owner"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
