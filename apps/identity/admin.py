"""Staff views of accounts and their sessions.

Edits here change what authentication caches (sessions.py): a staff flag or activity changed,
a session revoked, an account or session deleted. Each such edit drops the cached state on
every pod once it is committed, as the API's services do.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator

from . import sessions
from .models import DeviceSession, User

# The fields of an account that session state carries (sessions.SessionState, its query).
_STATE_FIELDS = {"is_active", "is_staff"}
# Characters of a device name shown in the sessions list; the whole name is on its page.
SHORT_DEVICE = 40


def _after_commit(action: Callable[[list[Any]], None], session_ids: Iterable[Any]) -> None:
    ids = list(session_ids)
    if ids:
        transaction.on_commit(lambda: action(ids), using=router.db_for_write(DeviceSession))


def _session_ids(users: Iterable[Any]) -> list[Any]:
    return list(DeviceSession.objects.filter(user__in=users).values_list("id", flat=True))


class DeviceSessionInline(admin.TabularInline):
    model = DeviceSession
    extra = 0
    fields = ("device_name", "ip_address", "created_at", "last_used_at", "revoked_at", "revoke_reason")
    readonly_fields = fields
    can_delete = False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["id", "date_joined", "last_login", "version", "updated_at"]
    fieldsets = (
        (None, {"fields": ("id", "email", "password", "display_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login", "updated_at", "version")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [DeviceSessionInline]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            obj.bump()
        else:
            obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        if change and _STATE_FIELDS & set(form.changed_data):
            _after_commit(sessions.forget, _session_ids([obj.pk]))

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        ids = _session_ids([obj.pk])
        super().delete_model(request, obj)
        _after_commit(sessions.mark_revoked, ids)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ids = _session_ids(queryset.values("pk"))
        super().delete_queryset(request, queryset)
        _after_commit(sessions.mark_revoked, ids)


@admin.register(DeviceSession)
class DeviceSessionAdmin(admin.ModelAdmin):
    # Few columns, long texts cut short and free to wrap: the list fits a 1366 px screen beside
    # its filters (a device name is whatever the client sent, up to 100 characters).
    list_display = ["account", "short_device", "ip_address", "last_used_at", "state"]
    list_select_related = ["user"]
    list_filter = ["revoke_reason", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "device_name", "ip_address"]
    raw_id_fields = ["user"]
    readonly_fields = ["id", "refresh_jti", "created_at", "last_used_at", "expires_at"]

    class Media:
        css = {"all": ["identity/admin.css"]}

    @admin.display(description="account", ordering="user__email")
    def account(self, obj: DeviceSession) -> str:
        return obj.user.email  # a method, not the foreign key: Django would not let it wrap

    @admin.display(description="device", ordering="device_name")
    def short_device(self, obj: DeviceSession) -> str:
        return Truncator(obj.device_name).chars(SHORT_DEVICE) or "—"

    @admin.display(description="state", ordering="revoked_at")
    def state(self, obj: DeviceSession) -> str:
        if obj.revoked_at is None:
            return "expired" if obj.expires_at <= timezone.now() else "active"
        return f"ended: {obj.get_revoke_reason_display()}" if obj.revoke_reason else "ended"

    def save_model(self, request: HttpRequest, obj: DeviceSession, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "revoked_at" in form.changed_data:
            _after_commit(sessions.mark_revoked if obj.revoked_at else sessions.forget, [obj.pk])

    def delete_model(self, request: HttpRequest, obj: DeviceSession) -> None:
        super().delete_model(request, obj)
        _after_commit(sessions.mark_revoked, [obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DeviceSession]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        super().delete_queryset(request, queryset)
        _after_commit(sessions.mark_revoked, ids)
