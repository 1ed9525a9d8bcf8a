"""Reads for datasets (the pages and the API share these)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from abtests.models import Dataset, DatasetRow, DatasetSnapshot
from accounts.models import Role
from studio.permissions import get_object_for_user, membership_for, scope


def dataset_list(*, user: Any, workspace_id: Any = None, search: str = "") -> QuerySet[Dataset]:
    """The user's datasets (optionally one workspace's), newest change first, with ``row_count``.

    One query whatever the number of datasets (``row_count`` is annotated, creator joined).
    """
    datasets = scope(Dataset.objects.all(), user)
    if workspace_id not in (None, ""):
        membership_for(user, workspace_id)  # 404 for a workspace that is not theirs
        datasets = datasets.filter(workspace_id=int(workspace_id))
    if search:
        datasets = datasets.filter(name__icontains=search.strip())
    return datasets.with_row_count().select_related("created_by").order_by("-updated_at", "-id")


def dataset_get(*, user: Any, pk: Any, min_role: str = Role.VIEWER) -> Dataset:
    """One dataset of the user's workspaces with ``row_count``; 404 elsewhere, 403 for a role too low."""
    return get_object_for_user(
        Dataset.objects.with_row_count().select_related("created_by", "workspace"), user, min_role=min_role, pk=pk
    )


def dataset_rows(*, dataset: Dataset) -> QuerySet[DatasetRow]:
    return DatasetRow.objects.filter(dataset=dataset).order_by("index")


def dataset_row_get(*, dataset: Dataset, pk: Any) -> DatasetRow:
    from django.http import Http404

    try:
        return DatasetRow.objects.select_related("dataset").get(dataset=dataset, pk=int(pk))
    except (DatasetRow.DoesNotExist, TypeError, ValueError):
        raise Http404("No such dataset row.") from None


def snapshot_get(*, user: Any, pk: Any) -> DatasetSnapshot:
    return get_object_for_user(DatasetSnapshot.objects.all(), user, pk=pk)
