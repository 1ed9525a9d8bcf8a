"""Provider pages: the playground, provider keys and the model catalog (namespace ``providers``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from providers import views

app_name = "providers"

urlpatterns: list[URLPattern | URLResolver] = [
    path("playground/", views.playground_page, name="playground"),
    path("playground/stream/", views.playground_stream, name="playground-stream"),
    path("playground/estimate/", views.playground_estimate, name="playground-estimate"),
    path("playground/upload/", views.playground_upload, name="playground-upload"),
    path("playground/save/", views.playground_save, name="playground-save"),
    path("credentials/", views.credentials, name="credentials"),
    path("credentials/<id:pk>/replace/", views.credential_replace, name="credential-replace"),
    path("credentials/<id:pk>/delete/", views.credential_delete, name="credential-delete"),
    path("credentials/<id:pk>/test/", views.credential_test, name="credential-test"),
    path("models/", views.models_page, name="models"),
    path("models/<id:pk>/delete/", views.custom_model_delete, name="model-delete"),
]
