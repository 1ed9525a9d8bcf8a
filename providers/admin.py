from __future__ import annotations

from django.contrib import admin

from providers.models import ModelInfo, ProviderCredential, Run


@admin.register(ModelInfo)
class ModelInfoAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "model_id",
        "display_name",
        "price_input",
        "price_cached_input",
        "price_cache_write",
        "price_output",
        "prices_read_on",
        "verified",
        "active",
        "workspace",
    ]
    list_filter = ["provider", "verified", "active"]
    search_fields = ["model_id", "display_name"]
    list_editable = ["price_input", "price_cached_input", "price_cache_write", "price_output", "verified", "active"]
    raw_id_fields = ["workspace"]


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin):
    """Shows provider, label and last 4 only; keys are never displayed or editable here."""

    list_display = ["workspace", "provider", "label", "last4", "base_url", "created_by", "updated_at"]
    list_filter = ["provider"]
    fields = ["workspace", "provider", "label", "base_url", "last4", "created_by", "created_at", "updated_at"]
    readonly_fields = ["workspace", "provider", "last4", "created_by", "created_at", "updated_at"]
    search_fields = ["label", "workspace__name"]

    def has_add_permission(self, request: object) -> bool:
        return False  # keys are added by workspace admins in the app, where they are encrypted


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workspace",
        "provider",
        "model",
        "status",
        "error_kind",
        "cost",
        "latency_ms",
        "source",
        "created_at",
    ]
    list_filter = ["status", "provider", "source", "error_kind"]
    search_fields = ["model", "provider_request_id"]
    raw_id_fields = ["workspace", "user", "prompt", "prompt_version", "credential"]
    readonly_fields = [f.name for f in Run._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: object) -> bool:
        return False
