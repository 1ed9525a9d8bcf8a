from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from prompts import views

app_name = "prompts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.prompt_list, name="list"),
    path("new/", views.prompt_new, name="new"),
    path("upload/", views.asset_upload, name="upload"),
    path("<id:prompt_id>/", views.prompt_detail, name="detail"),
    path("<id:prompt_id>/history/", views.history, name="history"),
    path("<id:prompt_id>/diff/", views.diff, name="diff"),
    path("<id:prompt_id>/versions/<id:number>/", views.version_detail, name="version"),
    path("<id:prompt_id>/versions/<id:number>/restore/", views.version_restore, name="restore"),
    path("<id:prompt_id>/labels/", views.label_set, name="label-set"),
    path("<id:prompt_id>/labels/<str:label>/remove/", views.label_remove, name="label-remove"),
    path("<id:prompt_id>/duplicate/", views.prompt_duplicate, name="duplicate"),
    path("<id:prompt_id>/archive/", views.prompt_archive, name="archive"),
    path("<id:prompt_id>/delete/", views.prompt_delete, name="delete"),
]
