"""Pages for datasets (/datasets/...) and A/B tests (/tests/...); mounted at the site root by studio/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from abtests import views

app_name = "abtests"

urlpatterns: list[URLPattern | URLResolver] = [
    # datasets
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/new/", views.dataset_new, name="dataset-new"),
    path("datasets/import/", views.dataset_import, name="dataset-import"),
    path("datasets/<id:dataset_id>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<id:dataset_id>/edit/", views.dataset_edit, name="dataset-edit"),
    path("datasets/<id:dataset_id>/delete/", views.dataset_delete, name="dataset-delete"),
    path("datasets/<id:dataset_id>/rows/add/", views.row_add, name="row-add"),
    path("datasets/<id:dataset_id>/rows/<id:row_id>/", views.row_show, name="row"),
    path("datasets/<id:dataset_id>/rows/<id:row_id>/edit/", views.row_edit, name="row-edit"),
    path("datasets/<id:dataset_id>/rows/<id:row_id>/delete/", views.row_delete, name="row-delete"),
    # A/B tests
    path("tests/", views.test_list, name="list"),
    path("tests/new/", views.test_new, name="new"),
    path("tests/<id:test_id>/", views.test_detail, name="detail"),
    path("tests/<id:test_id>/edit/", views.test_edit, name="edit"),
    path("tests/<id:test_id>/progress/", views.test_progress, name="progress"),
    path("tests/<id:test_id>/start/", views.test_start, name="start"),
    path("tests/<id:test_id>/cancel/", views.test_cancel, name="cancel"),
    path("tests/<id:test_id>/delete/", views.test_delete, name="delete"),
    path("tests/<id:test_id>/results/", views.test_results, name="results"),
    path("tests/<id:test_id>/trials/", views.test_trials, name="trials"),
    path("tests/<id:test_id>/review/pairwise/", views.review_pairwise, name="review-pairwise"),
    path("tests/<id:test_id>/review/rating/", views.review_rating, name="review-rating"),
]
