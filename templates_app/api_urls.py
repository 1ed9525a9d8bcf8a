"""/api/templates/... (included in the ``api`` namespace by studio/urls.py)."""

from __future__ import annotations

from django.urls import path

from templates_app import api

urlpatterns = [
    path("", api.TemplateListView.as_view(), name="template-list"),
    path("categories/", api.CategoryListView.as_view(), name="template-categories"),
    path("from-version/", api.TemplateFromVersionView.as_view(), name="template-from-version"),
    path("<id:template_id>/", api.TemplateDetailView.as_view(), name="template-detail"),
    path("<id:template_id>/instantiate/", api.TemplateInstantiateView.as_view(), name="template-instantiate"),
]
