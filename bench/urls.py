"""Bench-only URLconf (exampleapp.settings.bench): the real gateway plus the baseline views.

The baselines live under /bench/ so they can never shadow an API route.
"""

from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/todos", views.todos_baseline, name="bench-todos"),
    path("bench/notes/<uuid:note_id>", views.note_baseline, name="bench-note"),
    path("bench/ping", views.PingView.as_view(), name="bench-ping"),
    path("bench/ping-anonymous", views.AnonymousPingView.as_view(), name="bench-ping-anonymous"),
    path("", include("exampleapp.urls")),
]

handler400 = "apps.common.errors.handler400"
handler403 = "apps.common.errors.handler403"
handler404 = "apps.common.errors.handler404"
handler500 = "apps.common.errors.handler500"
