"""Routes of the sync app, mounted at /v1/sync by the gateway."""

from django.urls import path

from . import events, views

urlpatterns = [
    path("/changes", views.ChangesView.as_view(), name="sync-changes"),
    path("/push", views.PushView.as_view(), name="sync-push"),
    path("/events", events.EventsView.as_view(), name="sync-events"),
    path("/asyncapi", views.AsyncApiView.as_view(), name="sync-asyncapi"),
]
