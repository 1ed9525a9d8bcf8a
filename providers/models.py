"""Model catalog, encrypted provider credentials and Run records."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from providers.types import PROVIDER_LABELS


class Provider(models.TextChoices):
    OPENAI = "openai", PROVIDER_LABELS["openai"]
    ANTHROPIC = "anthropic", PROVIDER_LABELS["anthropic"]
    MISTRAL = "mistral", PROVIDER_LABELS["mistral"]
    OPENAI_COMPATIBLE = "openai_compatible", PROVIDER_LABELS["openai_compatible"]
    ECHO = "echo", PROVIDER_LABELS["echo"]


# what a credential can be for: every provider but echo (the built-in test provider needs no key)
CREDENTIAL_PROVIDERS = [choice for choice in Provider.choices if choice[0] != Provider.ECHO]


def _price() -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"), help_text="USD per 1M tokens.")


class ModelInfoQuerySet(models.QuerySet["ModelInfo"]):
    def for_workspace(self, workspace_id: int | None) -> ModelInfoQuerySet:
        """The shared catalog plus the workspace's own custom models."""
        if workspace_id is None:
            return self.filter(workspace__isnull=True)
        return self.filter(Q(workspace__isnull=True) | Q(workspace_id=workspace_id))

    def active(self) -> ModelInfoQuerySet:
        return self.filter(active=True)


class ModelInfo(models.Model):
    """One model a provider serves: what it takes and what it costs (per 1M tokens, USD)."""

    provider = models.CharField(max_length=30, choices=Provider.choices)
    model_id = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)
    input_modalities = models.JSONField(default=list, help_text='Any of "text", "image", "audio", "document".')
    context_window = models.PositiveIntegerField(default=0)
    price_input = _price()
    price_cached_input = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="USD per 1M cached input tokens (blank: none).",
    )
    price_cache_write = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="USD per 1M cache-write tokens (Anthropic)."
    )
    price_output = _price()
    prices_read_on = models.DateField(null=True, blank=True, help_text="The date the prices were read.")
    verified = models.BooleanField(default=False, help_text="Prices read from the provider's own pricing page.")
    price_source = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="custom_models",
        help_text="Set for a workspace's custom model on an OpenAI-compatible endpoint.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelInfoQuerySet.as_manager()

    class Meta:
        ordering = ["provider", "display_name"]
        verbose_name = "model"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"], condition=Q(workspace__isnull=True), name="model_unique_shared"
            ),
            models.UniqueConstraint(
                fields=["workspace", "provider", "model_id"],
                condition=Q(workspace__isnull=False),
                name="model_unique_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.display_name}"

    @property
    def modalities(self) -> frozenset[str]:
        return frozenset(self.input_modalities) | {"text"}


class ProviderCredential(models.Model):
    """A workspace's API key for one provider, encrypted at rest (MultiFernet; see providers.crypto)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="provider_credentials")
    provider = models.CharField(max_length=30, choices=Provider.choices)
    label = models.CharField(max_length=100, blank=True)
    base_url = models.URLField(max_length=500, blank=True, help_text="Required for an OpenAI-compatible server.")
    encrypted_key = models.TextField(blank=True, editable=False)
    last4 = models.CharField(max_length=4, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "label", "id"]
        indexes = [models.Index(fields=["workspace", "provider"], name="credential_ws_provider_idx")]

    def __str__(self) -> str:
        tail = f" ...{self.last4}" if self.last4 else ""
        return f"{self.get_provider_display()} {self.label}{tail}".strip()

    def __repr__(self) -> str:
        return f"<ProviderCredential {self.pk} {self.provider} ...{self.last4}>"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    ERROR = "error", "Error"


class RunSource(models.TextChoices):
    PLAYGROUND = "playground", "Playground"
    ABTEST = "abtest", "A/B test"
    API = "api", "API"


class RunQuerySet(models.QuerySet["Run"]):
    def finished(self) -> RunQuerySet:
        return self.exclude(status=RunStatus.RUNNING)


class Run(models.Model):
    """One provider call: who ran what against which model, what came back, and what it cost."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt = models.ForeignKey("prompts.Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    prompt_version = models.ForeignKey(
        "prompts.PromptVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        help_text="Empty for a draft.",
    )
    provider = models.CharField(max_length=30, choices=Provider.choices)
    model = models.CharField(max_length=200)
    credential = models.ForeignKey(
        ProviderCredential, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    params = models.JSONField(default=dict, blank=True)
    input = models.JSONField(default=dict, blank=True, help_text="Rendered messages; media by asset id or URL.")
    variables = models.JSONField(default=dict, blank=True)
    output = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=50, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    error_kind = models.CharField(max_length=30, blank=True)
    error_message = models.TextField(blank=True)
    retry_after = models.FloatField(null=True, blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=20, choices=RunSource.choices, default=RunSource.API)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="run_ws_created_idx"),
            models.Index(fields=["workspace", "status", "-created_at"], name="run_ws_status_idx"),
            models.Index(fields=["workspace", "model", "-created_at"], name="run_ws_model_idx"),
            models.Index(fields=["workspace", "prompt", "-created_at"], name="run_ws_prompt_idx"),
            models.Index(fields=["workspace", "provider", "-created_at"], name="run_ws_provider_idx"),
            models.Index(fields=["workspace", "source", "-created_at"], name="run_ws_source_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} {self.provider}/{self.model} {self.status}"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens
