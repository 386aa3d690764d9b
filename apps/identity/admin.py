"""Staff views of accounts and their sessions."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.utils import timezone

from .models import DeviceSession, User


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


@admin.register(DeviceSession)
class DeviceSessionAdmin(admin.ModelAdmin):
    list_display = ["user", "device_name", "ip_address", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoke_reason", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "device_name", "ip_address"]
    raw_id_fields = ["user"]
    readonly_fields = ["id", "refresh_jti", "created_at", "last_used_at", "expires_at"]
