"""Reads for providers: runs, credentials and the model catalog, always scoped to a workspace."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from providers.models import ModelInfo, ProviderCredential, Run
from studio.ids import parse_id

BAD_DATE = "{name} must be a date (YYYY-MM-DD) or a date-time (ISO 8601)."
BAD_ID = "{name} must be a number."


def _parse_when(name: str, value: str, *, end: bool) -> datetime:
    try:
        if "T" in value or " " in value.strip():
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            day = date.fromisoformat(value.strip())
            moment = datetime.combine(day, time.max if end else time.min)
    except ValueError:
        raise ValidationError({name: [BAD_DATE.format(name=name)]}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def run_list(*, workspace_ids: list[int], filters: dict[str, Any] | None = None) -> QuerySet[Run]:
    """Runs of the given workspaces, newest first, filtered by prompt, version, model, provider,
    status, source and a from/to date range."""
    filters = filters or {}
    qs = Run.objects.filter(workspace_id__in=workspace_ids).select_related("prompt_version")
    for name in ("workspace", "prompt", "prompt_version"):
        value = filters.get(name)
        if value not in (None, ""):
            number = parse_id(value)
            if number is None:
                raise ValidationError({name: [BAD_ID.format(name=name)]})
            qs = qs.filter(**{f"{name}_id": number})
    for name in ("model", "provider", "status", "source"):
        value = filters.get(name)
        if value:
            # no stored value has a NUL, and PostgreSQL refuses one in a query: it matches nothing
            qs = qs.none() if "\x00" in str(value) else qs.filter(**{name: value})
    if filters.get("from"):
        qs = qs.filter(created_at__gte=_parse_when("from", filters["from"], end=False))
    if filters.get("to"):
        qs = qs.filter(created_at__lte=_parse_when("to", filters["to"], end=True))
    return qs.order_by("-created_at", "-id")


def credential_list(*, workspace_id: int) -> QuerySet[ProviderCredential]:
    return ProviderCredential.objects.filter(workspace_id=workspace_id).order_by("provider", "label", "id")


def model_list(*, workspace_id: int | None, provider: str | None = None) -> QuerySet[ModelInfo]:
    qs = ModelInfo.objects.for_workspace(workspace_id).active()
    if provider:
        qs = qs.filter(provider=provider)
    return qs.order_by("provider", "display_name", "id")


NO_PROMPT = "No such prompt in this workspace."
NO_VERSION = "This prompt has no version {version}."
NO_LABEL = "This prompt has no label {label!r}."
NO_VERSIONS = "This prompt has no saved version yet; run a draft with content instead."
NEED_INPUT = "Give a prompt (with an optional version or label) or draft content."
VERSION_AND_LABEL = "Give a version or a label, not both."


def run_input_resolve(
    *,
    workspace_id: int,
    prompt_id: int | None,
    version: int | None,
    label: str | None,
    content: dict[str, Any] | None,
    variables: dict[str, Any] | None,
) -> tuple[dict[str, Any], Any, Any]:
    """(rendered, prompt, prompt_version) for a run: a saved version (by number, label or latest) or a draft.

    Raises ValidationError (including prompts' RenderError) with a message naming the problem.
    """
    from prompts.content import validate_content
    from prompts.models import Prompt, PromptVersion
    from prompts.selectors import render_checked

    prompt = None
    prompt_version = None
    if version is not None and label:
        raise ValidationError({"version": [VERSION_AND_LABEL]})
    if prompt_id is not None:
        prompt = Prompt.objects.filter(workspace_id=workspace_id, pk=prompt_id).first()
        if prompt is None:
            raise ValidationError({"prompt": [NO_PROMPT]})
    if content is not None:
        document = validate_content(content, workspace_id=workspace_id)
    elif prompt is not None:
        versions = PromptVersion.objects.filter(prompt=prompt).select_related("prompt")
        if label:
            prompt_version = versions.filter(labels__name=label).first()
            if prompt_version is None:
                raise ValidationError({"label": [NO_LABEL.format(label=label)]})
        elif version is not None:
            prompt_version = versions.filter(number=version).first()
            if prompt_version is None:
                raise ValidationError({"version": [NO_VERSION.format(version=version)]})
        else:
            prompt_version = versions.order_by("-number").first()
            if prompt_version is None:
                raise ValidationError({"prompt": [NO_VERSIONS]})
        document = prompt_version.content
    else:
        raise ValidationError({"prompt": [NEED_INPUT]})
    rendered = render_checked(document=document, workspace_id=workspace_id, values=variables or {})
    return rendered, prompt, prompt_version
