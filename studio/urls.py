from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from abtests.api_urls import dataset_urlpatterns, test_urlpatterns
from accounts.api_urls import auth_urlpatterns, workspace_urlpatterns
from prompts.api_urls import asset_urlpatterns as prompt_asset_urlpatterns
from providers.api_urls import providers_urlpatterns, testing_urlpatterns
from studio import views

api_urlpatterns = [
    path("auth/", include(auth_urlpatterns)),
    path("workspaces/", include(workspace_urlpatterns)),
    path("templates/", include("templates_app.api_urls")),
    path("prompts/", include("prompts.api_urls")),
    path("assets/", include(prompt_asset_urlpatterns)),
    path("testing/", include(testing_urlpatterns)),
    path("providers/", include(providers_urlpatterns)),
    path("datasets/", include(dataset_urlpatterns)),
    path("tests/", include(test_urlpatterns)),
    path("analytics/", include("analytics.api_urls")),
    path("exports/", include("exports.api_urls")),
    path("audit/", include("audit.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("prompts/", include("prompts.urls")),
    path("templates/", include("templates_app.urls")),
    path("providers/", include("providers.urls")),
    path("", include("abtests.urls")),  # /datasets/... and /tests/...
    path("analytics/", include("analytics.urls")),
    path("exports/", include("exports.urls")),
    path("settings/audit/", include("audit.urls")),
    path("api/", include((api_urlpatterns, "api"))),
    path("admin/", admin.site.urls),
]

handler404 = "studio.errors.not_found"
handler500 = "studio.errors.server_error"
