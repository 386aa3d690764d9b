from django.apps import AppConfig


class TodosConfig(AppConfig):
    name = "apps.todos"
    label = "todos"

    def ready(self) -> None:
        from apps.sync import registry

        from .sync import TaskListSync, TaskSync

        registry.register(TaskListSync())
        registry.register(TaskSync())
