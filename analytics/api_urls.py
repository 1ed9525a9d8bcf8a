"""API routes under /api/analytics/."""

from __future__ import annotations

from django.urls import path

from analytics import api

urlpatterns = [
    path("summary/", api.SummaryView.as_view(), name="analytics-summary"),
    path("timeseries/", api.TimeseriesView.as_view(), name="analytics-timeseries"),
    path("breakdown/", api.BreakdownView.as_view(), name="analytics-breakdown"),
]
