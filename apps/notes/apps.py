from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "apps.notes"
    label = "notes"

    def ready(self) -> None:
        from apps.sync import registry

        from .sync import NoteSync

        registry.register(NoteSync())
