"""Reads for templates and categories. Every list is a fixed number of queries, whatever its length."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import Http404

from accounts.models import Workspace
from studio.permissions import workspace_ids_for
from templates_app.models import Category, Template

TEMPLATE_NOT_FOUND = "No such template."


def _visible_ids(user: Any, workspace: Workspace | None) -> list[int]:
    """The workspaces whose templates the user sees: one workspace if given (already access-checked), else all."""
    return [workspace.pk] if workspace is not None else workspace_ids_for(user)


def template_list(
    *, user: Any, workspace: Workspace | None = None, category: str | None = None, search: str = ""
) -> QuerySet[Template]:
    """Starters plus the templates of ``workspace`` (or of all the user's workspaces), filtered.

    ``category`` is a category slug; ``search`` matches name, description, tags and category name.
    The caller has checked the user's access to ``workspace``.
    """
    queryset = Template.objects.visible_in(_visible_ids(user, workspace)).select_related("category", "author")
    if category:
        queryset = queryset.filter(category__slug=category)
    search = (search or "").strip()
    if search:
        queryset = queryset.annotate(tags_text=Cast("tags", TextField()))
        for word in search.split()[:8]:
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(description__icontains=word)
                | Q(tags_text__icontains=word)
                | Q(category__name__icontains=word)
            )
    # Workspace templates first (they are the team's own), then starters; alphabetical within each.
    return queryset.order_by("is_starter", "category__order", "name", "id")


def template_get(*, user: Any, pk: Any) -> Template:
    """One template the user may see (a starter or one of their workspaces'); 404 otherwise."""
    try:
        return (
            Template.objects.visible_in(workspace_ids_for(user))
            .select_related("category", "author", "workspace")
            .get(pk=pk)
        )
    except (Template.DoesNotExist, ValueError, TypeError):
        raise Http404(TEMPLATE_NOT_FOUND) from None


def category_list(*, user: Any | None = None, workspace: Workspace | None = None) -> QuerySet[Category]:
    """All categories; with a user, each annotated with ``template_count`` (templates visible to them)."""
    queryset = Category.objects.all()
    if user is not None:
        ids = _visible_ids(user, workspace)
        visible = Q(templates__workspace__isnull=True) | Q(templates__workspace_id__in=ids)
        queryset = queryset.annotate(template_count=Count("templates", filter=visible))
    return queryset.order_by("order", "name")


def category_get(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first()
