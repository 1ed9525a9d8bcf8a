"""/api/datasets/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from abtests import api

dataset_urlpatterns = [
    path("", api.DatasetListView.as_view(), name="dataset-list"),
    path("import/", api.DatasetImportView.as_view(), name="dataset-import"),
    path("<int:dataset_id>/", api.DatasetDetailView.as_view(), name="dataset-detail"),
    path("<int:dataset_id>/rows/", api.DatasetRowListView.as_view(), name="dataset-rows"),
    path("<int:dataset_id>/rows/<int:row_id>/", api.DatasetRowDetailView.as_view(), name="dataset-row-detail"),
]
