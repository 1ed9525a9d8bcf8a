"""Reads for prompts, versions, labels and assets (pages and the API share these)."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404

from prompts.content import MEDIA_TYPES
from prompts.diff import content_diff
from prompts.models import Asset, Label, LabelMove, Prompt, PromptVersion
from prompts.rendering import RenderError, render
from studio.permissions import scope

NO_SUCH_PROMPT = "No prompt named {slug} in this workspace."
NO_SUCH_LABEL = "Prompt {slug} has no label {label}."
NO_SUCH_VERSION = "Prompt {slug} has no version {version}."
NO_VERSIONS = "Prompt {slug} has no versions yet."
UNKNOWN_ASSET_VALUE = "Variable {name}: unknown asset."
UNKNOWN_CONTENT_ASSET = "The content refers to an asset that no longer exists: {asset}."

SORTS = {
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "versions": ("latest_version", "id"),
    "-versions": ("-latest_version", "-id"),
}
DEFAULT_SORT = "-updated"


def _labels_prefetch() -> Prefetch[Any]:
    return Prefetch("labels", queryset=Label.objects.select_related("version").order_by("name"))


def _latest_number() -> Subquery:
    return Subquery(PromptVersion.objects.filter(prompt=OuterRef("pk")).order_by("-number").values("number")[:1])


def prompt_list(
    *,
    user: Any,
    workspace_id: int | None = None,
    search: str = "",
    tag: str = "",
    label: str = "",
    archived: bool | None = False,
    sort: str = DEFAULT_SORT,
) -> QuerySet[Prompt]:
    """The user's prompts, filtered, with ``latest_version`` (number or None) and labels prefetched.

    ``archived``: False = active only (default), True = archived only, None = both.
    A constant number of queries whatever the number of rows.
    """
    qs = scope(Prompt.objects.all(), user)
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if archived is not None:
        qs = qs.filter(archived=archived)
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(slug__icontains=search) | Q(description__icontains=search))
    tag = (tag or "").strip().lower()
    if tag:
        if connection.features.supports_json_field_contains:
            qs = qs.filter(tags__contains=[tag])
        else:  # SQLite: match the JSON-encoded string, quotes included (same encoding as storage)
            qs = qs.filter(tags__icontains=json.dumps(tag))
    label = (label or "").strip()
    if label:
        qs = qs.filter(labels__name=label)
    return (
        qs.select_related("author", "workspace")
        .prefetch_related(_labels_prefetch())
        .annotate(latest_version=_latest_number())
        .order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))
    )


def prompt_get(*, pk: int) -> Prompt:
    """One prompt with the list annotations (callers check access first)."""
    return (
        Prompt.objects.select_related("author", "workspace")
        .prefetch_related(_labels_prefetch())
        .annotate(latest_version=_latest_number())
        .get(pk=pk)
    )


def tag_list(*, user: Any, workspace_id: int) -> list[str]:
    """Every tag used in a workspace, sorted (for filter menus)."""
    tags: set[str] = set()
    for row in scope(Prompt.objects.filter(workspace_id=workspace_id), user).values_list("tags", flat=True):
        tags.update(row or [])
    return sorted(tags)


def label_name_list(*, user: Any, workspace_id: int) -> list[str]:
    """Every label name used in a workspace, sorted (for filter menus)."""
    qs = scope(Label.objects.filter(prompt__workspace_id=workspace_id), user, field="prompt__workspace")
    return sorted(set(qs.values_list("name", flat=True)))


def prompt_counts(*, user: Any, workspace_id: int) -> dict[str, int]:
    """How many active and archived prompts a workspace has (one query)."""
    qs = scope(Prompt.objects.filter(workspace_id=workspace_id), user)
    return qs.aggregate(active=Count("pk", filter=Q(archived=False)), archived=Count("pk", filter=Q(archived=True)))


def version_list(*, prompt: Prompt) -> QuerySet[PromptVersion]:
    """Versions newest first, with author and the labels pointing at each."""
    return (
        prompt.versions.select_related("author")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
        .order_by("-number")
    )


def version_get(*, prompt: Prompt, number: Any) -> PromptVersion:
    try:
        return version_list(prompt=prompt).get(number=int(number))
    except (PromptVersion.DoesNotExist, TypeError, ValueError):
        raise Http404(f"This prompt has no version {number}.") from None


def version_latest(*, prompt: Prompt) -> PromptVersion | None:
    return prompt.versions.select_related("author").order_by("-number").first()


def label_list(*, prompt: Prompt) -> QuerySet[Label]:
    return prompt.labels.select_related("version", "updated_by").order_by("name")


def label_move_list(*, prompt: Prompt, limit: int = 100) -> QuerySet[LabelMove]:
    """The label history, newest first."""
    return prompt.label_moves.select_related("from_version", "to_version", "actor").order_by("-at", "-id")[:limit]


def version_diff(*, old: PromptVersion, new: PromptVersion) -> dict[str, Any]:
    """A structured diff of two versions' content (see ``prompts.diff.content_diff``)."""
    diff = content_diff(old.content, new.content)
    diff["from"] = old.number
    diff["to"] = new.number
    return diff


def prompt_resolve(*, workspace_id: int, slug: str, label: str | None = None, version: Any = None) -> PromptVersion:
    """The version a label (or a number) points at; the latest version when neither is given."""
    prompt = Prompt.objects.filter(workspace_id=workspace_id, slug=slug).first()
    if prompt is None:
        raise Http404(NO_SUCH_PROMPT.format(slug=slug))
    qs = PromptVersion.objects.select_related("prompt", "author")
    if label:
        found = qs.filter(labels__prompt=prompt, labels__name=label).first()
        if found is None:
            raise Http404(NO_SUCH_LABEL.format(slug=slug, label=label))
        return found
    if version not in (None, ""):
        try:
            return qs.get(prompt=prompt, number=int(version))
        except (PromptVersion.DoesNotExist, TypeError, ValueError):
            raise Http404(NO_SUCH_VERSION.format(slug=slug, version=version)) from None
    latest = qs.filter(prompt=prompt).order_by("-number").first()
    if latest is None:
        raise Http404(NO_VERSIONS.format(slug=slug))
    return latest


def render_checked(*, document: dict[str, Any], workspace_id: int, values: dict[str, Any] | None) -> dict[str, Any]:
    """``render`` plus a check that every asset in the result belongs to the workspace.

    Use this (not bare ``render``) wherever values come from a user: an asset id given for a media
    variable must not reach another workspace's file. Raises ``RenderError``.
    """
    rendered = render(document, values or {})
    ids: set[str] = set()
    for message in rendered["messages"]:
        for part in message["content"]:
            if part.get("asset"):
                ids.add(part["asset"])
    if not ids:
        return rendered
    known = {str(pk) for pk in Asset.objects.filter(workspace_id=workspace_id, pk__in=ids).values_list("pk", flat=True)}
    missing = ids - known
    if missing:
        variables = {v["name"]: v for v in document.get("variables") or []}
        for name, value in (values or {}).items():
            var = variables.get(name)
            if var and var.get("type") in MEDIA_TYPES:
                ref = value.get("asset") if isinstance(value, dict) else value
                if isinstance(ref, str) and ref.lower() in missing:
                    raise RenderError(UNKNOWN_ASSET_VALUE.format(name=name))
        raise RenderError(UNKNOWN_CONTENT_ASSET.format(asset=sorted(missing)[0]))
    return rendered


def asset_list(*, user: Any, workspace_id: int | None = None, kind: str = "") -> QuerySet[Asset]:
    qs = scope(Asset.objects.all(), user).select_related("created_by")
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at")


def assets_by_id(*, workspace_id: int, ids: list[str]) -> dict[str, Asset]:
    """Assets of one workspace by id string (for showing content with thumbnails)."""
    return {str(a.pk): a for a in Asset.objects.filter(workspace_id=workspace_id, pk__in=ids)}
