"""Staff views of task lists and tasks.

Staff mostly look (search, filters, completion history). The few fields they may edit go
through the same bookkeeping as the API (version bump, field_versions), and deleting from the
admin makes tombstones through the services, so clients and the coming sync feed see staff
changes like any other. Structural fields (list, parent, position, due, recurrence) are
read-only here: their rules live in the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from . import services
from .models import DUE_COLUMNS, TREE_COLUMNS, Task, TaskCompletion, TaskList

# Characters of a title or a name shown in a changelist (up to 500 are stored): a row stays a
# few lines high. The whole text is on the object's page.
SHORT_TEXT = 80


def _short(text: str) -> str:
    return Truncator(text).chars(SHORT_TEXT)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Tombstones")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class HasDueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "has_due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("date", "All-day date"), ("datetime", "Date and time"), ("none", "No due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "date":
            return queryset.filter(due_date__isnull=False)
        if self.value() == "datetime":
            return queryset.filter(due_at__isnull=False)
        if self.value() == "none":
            return queryset.filter(due_date__isnull=True, due_at__isnull=True)
        return queryset


class _VersionedAdmin(admin.ModelAdmin):
    editable_fields: tuple[str, ...] = ()

    class Media:
        css = {"all": ["todos/admin.css"]}  # long unbroken texts wrap in the changelists

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name not in self.editable_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # objects are created by their owners through the API

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.admin_save(
            obj=obj, changed=[name for name in form.changed_data if name in self.editable_fields]
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.admin_delete(objs=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        services.admin_delete(objs=list(queryset))

    @admin.display(description="owner", ordering="owner__email")
    def owner_email(self, obj: Any) -> str:
        # As text, so a long address wraps: Django keeps a foreign key's column on one line.
        return str(obj.owner.email)


@admin.register(TaskList)
class TaskListAdmin(_VersionedAdmin):
    list_display = ["short_name", "owner_email", "archived", "version", "updated_at", "deleted_at"]
    list_filter = [DeletedFilter, "archived", "created_at"]
    search_fields = ["name", "owner__email", "=id"]
    list_select_related = ["owner"]
    editable_fields = ("name", "color", "archived")
    ordering = ["-updated_at"]

    @admin.display(description="name", ordering="name")
    def short_name(self, obj: TaskList) -> str:
        return _short(obj.name)


class TaskCompletionInline(admin.TabularInline):
    model = TaskCompletion
    extra = 0
    fields = ("completed_at", "due")
    readonly_fields = ("completed_at", "due")
    can_delete = False
    ordering = ["-completed_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(_VersionedAdmin):
    # Few, narrow columns: the changelist fits a 1366 px screen with the filters beside it (checked
    # in Chromium; the site has no model sidebar for that). Long texts are cut short or wrap. The
    # version and the deletion time are on the task's page; the filters find tombstones.
    list_display = ["short_title", "owner_email", "task_list", "done", "priority", "due", "tombstone"]
    list_filter = [DeletedFilter, "done", "priority", HasDueFilter, "created_at"]
    search_fields = ["title", "notes", "owner__email", "list__name", "=id"]
    list_select_related = ["owner", "list"]
    editable_fields = ("title", "notes", "priority")
    ordering = ["-updated_at"]
    inlines = [TaskCompletionInline]
    # `due` as the API shows it instead of its storage columns (a UTC instant, an offset in
    # minutes, and derived sort keys where "no due" is the year 9999); no derived order keys.
    exclude = [*DUE_COLUMNS, *TREE_COLUMNS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        stored = super().get_readonly_fields(request, obj)
        return [name for name in stored if name not in self.exclude] + ["due"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # `due` beside `done` and `completed_at`, where the API has it, not after every stored field.
        fields = [name for name in super().get_fields(request, obj) if name != "due"]
        at = fields.index("completed_at") + 1 if "completed_at" in fields else len(fields)
        return [*fields[:at], "due", *fields[at:]]

    @admin.display(description="title", ordering="title")
    def short_title(self, obj: Task) -> str:
        return _short(obj.title)

    @admin.display(description="list", ordering="list__name")
    def task_list(self, obj: Task) -> str:
        return _short(obj.list.name)  # as text, so a long name wraps (a foreign key's column does not)

    @admin.display(description="due", ordering="due_sort")
    def due(self, obj: Task) -> str:
        """The wire form: a date (`2026-12-24`) or a date-time in the offset it was given in."""
        due = obj.due
        return due.to_wire() if due is not None else ""

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def tombstone(self, obj: Task) -> bool:
        return obj.deleted_at is not None
