"""Staff views of notes and revisions.

Notes are the users' own writing: staff can find and read them (for support) and delete one
(the API's soft delete: a tombstone without text), but not edit them here. Edits made through
the admin would skip the services — no version bump, no revision, no field_versions — and sync
clients would never learn of them.
Removing rows for good is the job of `purge_tombstones`, so the admin does not hard-delete.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Note, NoteRevision


class NoteRevisionInline(admin.TabularInline):
    model = NoteRevision
    extra = 0
    fields = ("number", "title", "reason", "note_version", "created_at")
    readonly_fields = fields
    ordering = ("-number",)
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("deleted", "deleted (tombstone)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "pinned", "archived", "version", "updated_at", "deleted_at"]
    list_filter = [DeletedFilter, "pinned", "archived", "updated_at", "created_at"]
    search_fields = ["id", "title", "owner__email"]
    search_help_text = "Title, owner e-mail or note id."
    list_select_related = ["owner"]
    show_full_result_count = False
    date_hierarchy = "updated_at"
    ordering = ["-updated_at"]
    fields = readonly_fields = (
        "id",
        "owner",
        "title",
        "body",
        "tags",
        "pinned",
        "archived",
        "version",
        "field_versions",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    inlines = [NoteRevisionInline]
    actions = ["delete_notes"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description="Delete the selected notes (tombstones for sync, text gone)", permissions=["change"]
    )
    def delete_notes(self, request: HttpRequest, queryset: QuerySet[Note]) -> None:
        count = 0
        for note in queryset.filter(deleted_at__isnull=True).only("id", "owner_id"):
            services.note_delete(note_id=note.id, owner_id=note.owner_id)
            count += 1
        self.message_user(request, f"{count} note(s) deleted.", messages.SUCCESS)


@admin.register(NoteRevision)
class NoteRevisionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "note", "number", "reason", "note_version", "created_at"]
    list_filter = ["reason", "created_at"]
    search_fields = ["note__id", "note__title", "title", "note__owner__email"]
    search_help_text = "Note id or title, revision title, owner e-mail."
    list_select_related = ["note"]
    show_full_result_count = False
    ordering = ["-created_at"]
    fields = readonly_fields = ("note", "number", "title", "body", "reason", "note_version", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
