"""Staff views of library files, direct uploads and viewer states.

Files are read-only here except for deletion, which goes through `services.file_delete` so the
object is removed and a tombstone is kept exactly as an API delete would.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import File, Upload, ViewerDevicePosition, ViewerState, ViewerStateEntry


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "kind", "content_type", "size", "status", "created_at", "deleted_at"]
    list_filter = ["kind", "status", "content_type", ("deleted_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["id", "name", "sha256", "koreader_hash", "owner__email"]
    raw_id_fields = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "owner",
        "name",
        "kind",
        "content_type",
        "size",
        "sha256",
        "koreader_hash",
        "storage_key",
        "metadata",
        "status",
        "tags",
        "version",
        "field_versions",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    actions = ["delete_files"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk SQL delete would orphan the objects
        return actions

    def delete_model(self, request: HttpRequest, obj: File) -> None:
        if obj.deleted_at is None:
            services.file_delete(owner_id=obj.owner_id, file_id=obj.id)

    @admin.action(description="Delete selected files (remove their bytes, keep tombstones)")
    def delete_files(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        count = 0
        for file in queryset.filter(deleted_at__isnull=True):
            services.file_delete(owner_id=file.owner_id, file_id=file.id)
            count += 1
        self.message_user(request, f"{count} file(s) deleted.", messages.SUCCESS)


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "status", "size", "part_count", "created_at", "error"]
    list_filter = ["status", "declared_type", "created_at"]
    search_fields = ["id", "name", "sha256", "owner__email", "storage_key"]
    raw_id_fields = ["owner", "file"]
    readonly_fields = [field.name for field in Upload._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ViewerDevicePositionInline(admin.TabularInline):
    model = ViewerDevicePosition
    extra = 0
    fields = ("device_id", "device_name", "modified", "intent", "progress", "recorded_at", "position")
    readonly_fields = fields
    can_delete = False


class ViewerStateEntryInline(admin.TabularInline):
    model = ViewerStateEntry
    extra = 0
    fields = ("version", "device_id", "modified", "intent", "progress", "applied", "reason", "recorded_at")
    readonly_fields = fields
    can_delete = False
    ordering = ["-version"]


@admin.register(ViewerState)
class ViewerStateAdmin(admin.ModelAdmin):
    list_display = [
        "file",
        "owner",
        "kind",
        "device_name",
        "progress",
        "modified",
        "updated_at",
        "deleted_at",
    ]
    list_filter = ["kind", "intent", ("deleted_at", admin.EmptyFieldListFilter), "updated_at"]
    search_fields = ["file__name", "file__id", "owner__email", "device_id", "device_name"]
    raw_id_fields = ["owner", "file"]
    readonly_fields = [field.name for field in ViewerState._meta.fields]
    inlines = [ViewerDevicePositionInline, ViewerStateEntryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
