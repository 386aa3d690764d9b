"""Routes of the todos app, mounted at /v1/todos by the gateway; paths carry their leading
slash so canonical URLs have no trailing one (/v1/todos/lists/{list_id})."""

from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.TaskCollectionView.as_view(), name="todos-tasks"),
    path("/bulk", views.TaskBulkView.as_view(), name="todos-bulk"),
    path("/lists", views.TaskListCollectionView.as_view(), name="todos-lists"),
    path("/lists/<uuid:list_id>", views.TaskListDetailView.as_view(), name="todos-list-detail"),
    path("/<uuid:task_id>", views.TaskDetailView.as_view(), name="todos-task-detail"),
    path(
        "/<uuid:task_id>/completions", views.TaskCompletionListView.as_view(), name="todos-task-completions"
    ),
]
