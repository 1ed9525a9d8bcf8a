"""/api/exports/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from exports import api

urlpatterns = [
    path("prompts/<int:prompt_id>/", api.PromptExportView.as_view(), name="export-prompt"),
    path("prompts/<int:prompt_id>/snippet/", api.SnippetView.as_view(), name="export-snippet"),
    path("templates/<int:template_id>/", api.TemplateExportView.as_view(), name="export-template"),
    path("datasets/<int:dataset_id>/", api.DatasetExportView.as_view(), name="export-dataset"),
    path("tests/<int:test_id>/", api.TestExportView.as_view(), name="export-test"),
    path("runs/", api.RunsExportView.as_view(), name="export-runs"),
    path("workspace/", api.WorkspaceExportView.as_view(), name="export-workspace"),
    path("import/", api.ImportView.as_view(), name="export-import"),
]
