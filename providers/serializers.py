"""Output shapes shared by the API, the SSE stream and the pages. No key is ever part of them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from providers.models import ModelInfo, ProviderCredential, Run


class RunOutputSerializer(serializers.ModelSerializer):
    prompt_version_number = serializers.IntegerField(
        source="prompt_version.number", read_only=True, default=None, allow_null=True
    )
    cost = serializers.DecimalField(max_digits=16, decimal_places=8, coerce_to_string=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "workspace",
            "user",
            "prompt",
            "prompt_version",
            "prompt_version_number",
            "provider",
            "model",
            "credential",
            "params",
            "input",
            "variables",
            "output",
            "finish_reason",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "usage_estimated",
            "cost",
            "latency_ms",
            "ttft_ms",
            "status",
            "error_kind",
            "error_message",
            "retry_after",
            "provider_request_id",
            "warnings",
            "source",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


def run_payload(run: Run) -> dict[str, Any]:
    return dict(RunOutputSerializer(run).data)


class CredentialOutputSerializer(serializers.ModelSerializer):
    """Provider, label, base URL and the last 4 characters: never the key."""

    base_url = serializers.URLField(allow_blank=True, read_only=True)  # "" (the provider's default) or a URL

    class Meta:
        model = ProviderCredential
        fields = ["id", "workspace", "provider", "label", "base_url", "last4", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class ModelOutputSerializer(serializers.ModelSerializer):
    custom = serializers.SerializerMethodField()

    class Meta:
        model = ModelInfo
        fields = [
            "id",
            "provider",
            "model_id",
            "display_name",
            "input_modalities",
            "context_window",
            "price_input",
            "price_cached_input",
            "price_cache_write",
            "price_output",
            "prices_read_on",
            "verified",
            "price_source",
            "workspace",
            "custom",
        ]
        read_only_fields = fields

    def get_custom(self, obj: ModelInfo) -> bool:
        return obj.workspace_id is not None
