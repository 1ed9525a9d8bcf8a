"""/api/prompts/... and /api/assets/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from prompts import api

urlpatterns = [
    path("", api.PromptListView.as_view(), name="prompt-list"),
    path("resolve/", api.ResolveView.as_view(), name="prompt-resolve"),
    path("<int:prompt_id>/", api.PromptDetailView.as_view(), name="prompt-detail"),
    path("<int:prompt_id>/duplicate/", api.PromptDuplicateView.as_view(), name="prompt-duplicate"),
    path("<int:prompt_id>/versions/", api.VersionListView.as_view(), name="version-list"),
    path("<int:prompt_id>/versions/<int:number>/", api.VersionDetailView.as_view(), name="version-detail"),
    path("<int:prompt_id>/versions/<int:number>/restore/", api.VersionRestoreView.as_view(), name="version-restore"),
    path("<int:prompt_id>/diff/", api.DiffView.as_view(), name="prompt-diff"),
    path("<int:prompt_id>/labels/", api.LabelListView.as_view(), name="label-list"),
    path("<int:prompt_id>/labels/<str:label>/", api.LabelDetailView.as_view(), name="label-detail"),
    path("<int:prompt_id>/render/", api.RenderView.as_view(), name="prompt-render"),
]

asset_urlpatterns = [
    path("", api.AssetListView.as_view(), name="asset-list"),
    path("<uuid:asset_id>/", api.AssetDetailView.as_view(), name="asset-detail"),
    path("<uuid:asset_id>/content/", api.AssetContentView.as_view(), name="asset-content"),
]
