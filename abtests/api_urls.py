"""/api/datasets/... and /api/tests/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from abtests import api

dataset_urlpatterns = [
    path("", api.DatasetListView.as_view(), name="dataset-list"),
    path("import/", api.DatasetImportView.as_view(), name="dataset-import"),
    path("<id:dataset_id>/", api.DatasetDetailView.as_view(), name="dataset-detail"),
    path("<id:dataset_id>/rows/", api.DatasetRowListView.as_view(), name="dataset-rows"),
    path("<id:dataset_id>/rows/<id:row_id>/", api.DatasetRowDetailView.as_view(), name="dataset-row-detail"),
]

test_urlpatterns = [
    path("", api.TestListView.as_view(), name="test-list"),
    path("<id:test_id>/", api.TestDetailView.as_view(), name="test-detail"),
    path("<id:test_id>/estimate/", api.TestEstimateView.as_view(), name="test-estimate"),
    path("<id:test_id>/start/", api.TestStartView.as_view(), name="test-start"),
    path("<id:test_id>/cancel/", api.TestCancelView.as_view(), name="test-cancel"),
    path("<id:test_id>/results/", api.TestResultsView.as_view(), name="test-results"),
    path("<id:test_id>/trials/", api.TestTrialListView.as_view(), name="test-trials"),
    path("<id:test_id>/reviews/", api.TestReviewListView.as_view(), name="test-reviews"),
]
