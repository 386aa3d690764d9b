from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "apps.library"
    label = "library"
    verbose_name = "Library"

    def ready(self) -> None:
        from apps.sync import registry

        from .sync import FileSync, ViewerStateSync

        registry.register(FileSync())
        registry.register(ViewerStateSync())
