"""Templates: reusable prompt content, either shipped starters (no workspace) or a workspace's own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

MEDIA_KINDS = ("image", "audio", "document")


class Category(models.Model):
    """A shelf in the gallery (Vision, Documents, Audio, ...). Shared by every workspace."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class TemplateQuerySet(models.QuerySet["Template"]):
    def starters(self) -> TemplateQuerySet:
        """Shipped templates every workspace sees."""
        return self.filter(workspace__isnull=True)

    def visible_in(self, workspace_ids: list[int]) -> TemplateQuerySet:
        """Starters plus the templates of the given workspaces."""
        return self.filter(Q(workspace__isnull=True) | Q(workspace_id__in=workspace_ids))


class Template(models.Model):
    """Prompt content to start from.

    ``content`` is a document in the prompts' neutral format (messages, variables with defaults and
    descriptions, model settings), validated by ``prompts.content.validate_content``. A template without
    a workspace is a shipped starter: every workspace sees it and nobody can change it through the app.
    """

    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="templates"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="templates")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140)
    description = models.TextField(blank=True)
    content = models.JSONField(default=dict)
    tags = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_starter = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        ordering = ["category__order", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "slug"],
                condition=Q(workspace__isnull=False),
                name="unique_template_slug_per_workspace",
            ),
            models.UniqueConstraint(fields=["slug"], condition=Q(workspace__isnull=True), name="unique_starter_slug"),
            models.CheckConstraint(
                condition=Q(is_starter=True, workspace__isnull=True) | Q(is_starter=False, workspace__isnull=False),
                name="starter_iff_no_workspace",
                violation_error_message=(
                    "A template without a workspace is a shipped starter; starters come from "
                    "manage.py load_starter_templates."
                ),
            ),
        ]
        indexes = [models.Index(fields=["workspace", "category"])]

    def __str__(self) -> str:
        return self.name

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = (self.content or {}).get("messages") or []
        return messages if isinstance(messages, list) else []

    @property
    def variables(self) -> list[dict[str, Any]]:
        """The declared variables (name, type, default, description)."""
        variables = (self.content or {}).get("variables") or []
        return [v for v in variables if isinstance(v, dict)] if isinstance(variables, list) else []

    @property
    def model_settings(self) -> dict[str, Any]:
        model = (self.content or {}).get("model") or {}
        return model if isinstance(model, dict) else {}

    def media_kinds(self) -> list[str]:
        """The kinds of media the template takes (image, audio, document), in a stable order."""
        found = {
            part.get("type")
            for message in self.messages
            if isinstance(message, dict)
            for part in (message.get("content") or [])
            if isinstance(part, dict)
        }
        found |= {v.get("type") for v in self.variables}
        return [kind for kind in MEDIA_KINDS if kind in found]
