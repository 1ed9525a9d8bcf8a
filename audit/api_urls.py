"""API routes under /api/audit/."""

from __future__ import annotations

from django.urls import path

from audit import api

urlpatterns = [
    path("", api.AuditEventListView.as_view(), name="audit-list"),
]
