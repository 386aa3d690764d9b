"""Routes of the notes app, mounted at /v1/notes by the gateway. Paths carry their leading slash
so canonical URLs have no trailing one (/v1/notes/{id})."""

from django.urls import URLPattern, URLResolver, path

from .views import NoteDetailView, NoteRevisionViewSet, NoteViewSet

urlpatterns: list[URLPattern | URLResolver] = [
    path("", NoteViewSet.as_view({"get": "list", "post": "create"}), name="notes-list"),
    path(
        "/<uuid:note_id>",
        NoteDetailView.as_view(),
        name="notes-detail",
    ),
    path(
        "/<uuid:note_id>/revisions",
        NoteRevisionViewSet.as_view({"get": "list"}),
        name="notes-revisions-list",
    ),
    path(
        "/<uuid:note_id>/revisions/<int:number>",
        NoteRevisionViewSet.as_view({"get": "retrieve"}),
        name="notes-revisions-detail",
    ),
    path(
        "/<uuid:note_id>/revisions/<int:number>/restore",
        NoteRevisionViewSet.as_view({"post": "restore"}),
        name="notes-revisions-restore",
    ),
]
