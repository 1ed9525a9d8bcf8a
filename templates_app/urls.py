from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from templates_app import views

app_name = "templates_app"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.gallery, name="gallery"),
    path("<int:template_id>/", views.detail, name="detail"),
    path("<int:template_id>/use/", views.use, name="use"),
    path("<int:template_id>/delete/", views.delete, name="delete"),
    path("from-version/<int:version_id>/", views.from_version, name="from-version"),
]
