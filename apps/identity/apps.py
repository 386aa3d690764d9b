from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"
    verbose_name = "Identity"


class ExampleAppAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the site whose sign-in meets the API's limits (admin_site.py).
    Listed in INSTALLED_APPS instead of django.contrib.admin."""

    default = False  # IdentityConfig stays this module's default
    default_site = "apps.identity.admin_site.AdminSite"
