from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from prompts import views

app_name = "prompts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.prompt_list, name="list"),
    path("new/", views.prompt_new, name="new"),
    path("upload/", views.asset_upload, name="upload"),
    path("<int:prompt_id>/", views.prompt_detail, name="detail"),
    path("<int:prompt_id>/history/", views.history, name="history"),
    path("<int:prompt_id>/diff/", views.diff, name="diff"),
    path("<int:prompt_id>/versions/<int:number>/", views.version_detail, name="version"),
    path("<int:prompt_id>/versions/<int:number>/restore/", views.version_restore, name="restore"),
    path("<int:prompt_id>/labels/", views.label_set, name="label-set"),
    path("<int:prompt_id>/labels/<str:label>/remove/", views.label_remove, name="label-remove"),
    path("<int:prompt_id>/duplicate/", views.prompt_duplicate, name="duplicate"),
    path("<int:prompt_id>/archive/", views.prompt_archive, name="archive"),
    path("<int:prompt_id>/delete/", views.prompt_delete, name="delete"),
]
