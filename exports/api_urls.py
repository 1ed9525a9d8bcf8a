"""/api/exports/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from exports import api

urlpatterns = [
    path("prompts/<id:prompt_id>/", api.PromptExportView.as_view(), name="export-prompt"),
    path("prompts/<id:prompt_id>/snippet/", api.SnippetView.as_view(), name="export-snippet"),
    path("templates/<id:template_id>/", api.TemplateExportView.as_view(), name="export-template"),
    path("datasets/<id:dataset_id>/", api.DatasetExportView.as_view(), name="export-dataset"),
    path("tests/<id:test_id>/", api.TestExportView.as_view(), name="export-test"),
    path("runs/", api.RunsExportView.as_view(), name="export-runs"),
    path("workspace/", api.WorkspaceExportView.as_view(), name="export-workspace"),
    path("import/", api.ImportView.as_view(), name="export-import"),
]
