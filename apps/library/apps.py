from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "apps.library"
    label = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        from apps.common import web
        from apps.sync import registry

        from . import storage
        from .sync import FileSync, ViewerStateSync

        web.add_connect_source(storage.browser_origin)

        registry.register(FileSync())
        registry.register(ViewerStateSync())
