from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from templates_app import views

app_name = "templates_app"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.gallery, name="gallery"),
    path("<id:template_id>/", views.detail, name="detail"),
    path("<id:template_id>/use/", views.use, name="use"),
    path("<id:template_id>/delete/", views.delete, name="delete"),
    path("from-version/<id:version_id>/", views.from_version, name="from-version"),
]
