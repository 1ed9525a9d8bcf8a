from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "templates_app"

urlpatterns: list[URLPattern | URLResolver] = []
