"""API routes: /api/testing/ (runs) and /api/providers/ (credentials and models)."""

from __future__ import annotations

from django.urls import path

from providers import api

testing_urlpatterns = [
    path("run/", api.RunCreateView.as_view(), name="testing-run"),
    path("estimate/", api.EstimateView.as_view(), name="testing-estimate"),
    path("runs/", api.RunListView.as_view(), name="testing-runs"),
    path("runs/<id:pk>/", api.RunDetailView.as_view(), name="testing-run-detail"),
]

providers_urlpatterns = [
    path("credentials/", api.CredentialListView.as_view(), name="provider-credentials"),
    path("credentials/<id:pk>/", api.CredentialDetailView.as_view(), name="provider-credential-detail"),
    path("credentials/<id:pk>/test/", api.CredentialTestView.as_view(), name="provider-credential-test"),
    path("models/", api.ModelListView.as_view(), name="provider-models"),
    path("models/<id:pk>/", api.ModelDetailView.as_view(), name="provider-model-detail"),
]
