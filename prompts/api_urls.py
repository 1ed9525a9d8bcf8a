"""/api/prompts/... and /api/assets/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from prompts import api

urlpatterns = [
    path("", api.PromptListView.as_view(), name="prompt-list"),
    path("resolve/", api.ResolveView.as_view(), name="prompt-resolve"),
    path("<id:prompt_id>/", api.PromptDetailView.as_view(), name="prompt-detail"),
    path("<id:prompt_id>/duplicate/", api.PromptDuplicateView.as_view(), name="prompt-duplicate"),
    path("<id:prompt_id>/versions/", api.VersionListView.as_view(), name="version-list"),
    path("<id:prompt_id>/versions/<id:number>/", api.VersionDetailView.as_view(), name="version-detail"),
    path("<id:prompt_id>/versions/<id:number>/restore/", api.VersionRestoreView.as_view(), name="version-restore"),
    path("<id:prompt_id>/diff/", api.DiffView.as_view(), name="prompt-diff"),
    path("<id:prompt_id>/labels/", api.LabelListView.as_view(), name="label-list"),
    path("<id:prompt_id>/labels/<str:label>/", api.LabelDetailView.as_view(), name="label-detail"),
    path("<id:prompt_id>/render/", api.RenderView.as_view(), name="prompt-render"),
]

asset_urlpatterns = [
    path("", api.AssetListView.as_view(), name="asset-list"),
    path("<uuid:asset_id>/", api.AssetDetailView.as_view(), name="asset-detail"),
    path("<uuid:asset_id>/content/", api.AssetContentView.as_view(), name="asset-content"),
]
