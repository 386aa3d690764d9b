from django.apps import AppConfig


class TodosConfig(AppConfig):
    name = "apps.todos"
    label = "todos"
