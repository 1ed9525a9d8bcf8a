"""Prompts, their immutable versions, labels that point at versions, and uploaded media assets."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

VERSION_IMMUTABLE = "Prompt versions are immutable; save a new version instead."
LABEL_NAME_INVALID = (
    "A label name is 1-50 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit."
)
LABEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
STANDARD_LABELS = ("production", "staging")


def validate_label_name(name: str) -> None:
    if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
        raise ValidationError({"label": [LABEL_NAME_INVALID]})


class PromptQuerySet(models.QuerySet["Prompt"]):
    def active(self) -> PromptQuerySet:
        """Prompts that are not archived."""
        return self.filter(archived=False)

    def in_workspace(self, workspace_id: int) -> PromptQuerySet:
        return self.filter(workspace_id=workspace_id)


class Prompt(models.Model):
    """A named prompt in a workspace; its content lives in immutable versions."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="prompts")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, help_text="Stable name used by the resolve API.")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PromptQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "slug"], name="prompt_unique_slug_per_workspace")]
        indexes = [
            models.Index(fields=["workspace", "archived", "-updated_at"], name="prompt_list_idx"),
            models.Index(fields=["workspace", "name"], name="prompt_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class PromptVersion(models.Model):
    """One immutable snapshot of a prompt's content. Number 1..n per prompt."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField(help_text="The normalised content document (prompts.content).")
    variables = models.JSONField(default=list, blank=True, help_text="The variables declared or detected.")
    model_settings = models.JSONField(default=dict, blank=True)
    message = models.CharField("commit message", max_length=500, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    content_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["prompt_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["prompt", "number"], name="version_unique_number_per_prompt")]

    def __str__(self) -> str:
        return f"{self.prompt} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(VERSION_IMMUTABLE)
        super().save(*args, **kwargs)

    @property
    def etag(self) -> str:
        """A strong validator: changes when the content or the version row changes."""
        return f'"{self.content_hash[:32]}-{self.pk}"'


class Label(models.Model):
    """A named pointer (production, staging, ...) at one version of a prompt."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50, validators=[validate_label_name])
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="labels")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["prompt", "name"], name="label_unique_name_per_prompt")]

    def __str__(self) -> str:
        return f"{self.name} -> v{self.version.number}"

    @property
    def is_production(self) -> bool:
        return self.name == "production"


class LabelMove(models.Model):
    """Every label move and delete: who, when, from which version to which."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="label_moves")
    label = models.CharField(max_length=50)
    from_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["prompt", "-at"], name="labelmove_prompt_idx")]

    def __str__(self) -> str:
        src = f"v{self.from_version.number}" if self.from_version else "-"
        dst = f"v{self.to_version.number}" if self.to_version else "deleted"
        return f"{self.label}: {src} -> {dst}"


class AssetKind(models.TextChoices):
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    DOCUMENT = "document", "Document"


class Asset(models.Model):
    """An uploaded media file, validated by content and stored once per content hash per workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=10, choices=AssetKind.choices)
    mime_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    file = models.FileField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds (audio).")
    original_name = models.CharField(max_length=255, blank=True)
    thumbnail = models.FileField(max_length=255, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "sha256"], name="asset_unique_hash_per_workspace")]
        indexes = [models.Index(fields=["workspace", "kind", "-created_at"], name="asset_list_idx")]

    def __str__(self) -> str:
        return self.original_name or str(self.id)

    def read_bytes(self) -> bytes:
        with self.file.open("rb") as handle:
            data: bytes = handle.read()
        return data

    @property
    def is_image(self) -> bool:
        return self.kind == AssetKind.IMAGE

    @property
    def extension(self) -> str:
        return self.file.name.rsplit(".", 1)[-1] if "." in self.file.name else ""
