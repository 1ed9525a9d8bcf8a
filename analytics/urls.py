from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics import views

app_name = "analytics"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export_csv, name="export"),
    path("prompts/<id:prompt_id>/", views.prompt_usage, name="prompt-usage"),
    path("budget/", views.budget, name="budget"),
    path("budget/remove/", views.budget_remove, name="budget-remove"),
    path("budget/indicator/", views.budget_indicator, name="budget-indicator"),
]
