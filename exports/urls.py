"""Export and import pages (namespace ``exports``; ``exports:index`` shows Exports in the sidebar)."""

from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("", views.index, name="index"),
    path("download/", views.download, name="download"),
    path("workspace/", views.workspace_archive, name="workspace"),
    path("import/", views.import_page, name="import"),
    path("snippet/<id:prompt_id>/", views.snippet, name="snippet"),
]
