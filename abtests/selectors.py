"""Reads for datasets (the pages and the API share these)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from abtests.models import ABTest, Dataset, DatasetRow, DatasetSnapshot, Review, Trial, Variant
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


# --- A/B tests -------------------------------------------------------------------------------------
def abtest_list(*, user: Any, workspace_id: Any = None, status: str = "", search: str = "") -> QuerySet[ABTest]:
    """The user's tests (optionally one workspace's), newest first, with dataset, control and creator
    joined and ``variant_count`` annotated: one query whatever the number of tests."""
    from django.db.models import Count

    tests = scope(ABTest.objects.all(), user)
    if workspace_id not in (None, ""):
        membership_for(user, workspace_id)
        tests = tests.filter(workspace_id=int(workspace_id))
    if status:
        tests = tests.filter(status=status)
    if search:
        tests = tests.filter(name__icontains=search.strip())
    return (
        tests.select_related("dataset", "control", "created_by", "snapshot")
        .annotate(variant_count=Count("variants", distinct=True))
        .order_by("-created_at", "-id")
    )


def abtest_get(*, user: Any, pk: Any, min_role: str = Role.VIEWER) -> ABTest:
    """One test of the user's workspaces (404 elsewhere, 403 for a role too low)."""
    return get_object_for_user(
        ABTest.objects.select_related("dataset", "snapshot", "control", "created_by", "workspace"),
        user,
        min_role=min_role,
        pk=pk,
    )


def variant_list(*, test: ABTest) -> QuerySet[Variant]:
    return Variant.objects.filter(test=test).select_related("prompt_version__prompt", "prompt").order_by("order", "id")


TRIAL_FILTER_INVALID = "passed must be true or false."


def trial_list(*, test: ABTest, variant: Any = None, status: str = "", passed: Any = None) -> QuerySet[Trial]:
    """A test's trials (filter by variant id, status, passed), in cell order, variant joined."""
    trials = Trial.objects.filter(test=test).select_related("variant")
    if variant not in (None, ""):
        try:
            trials = trials.filter(variant_id=int(variant))
        except (TypeError, ValueError):
            trials = trials.none()
    if status:
        trials = trials.filter(status=status)
    if passed not in (None, ""):
        value = str(passed).lower()
        if value not in ("true", "false", "1", "0"):
            from django.core.exceptions import ValidationError

            raise ValidationError({"passed": [TRIAL_FILTER_INVALID]})
        trials = trials.filter(passed=value in ("true", "1"))
    return trials.order_by("row_index", "repetition", "variant__order", "id")


def review_list(*, test: ABTest) -> QuerySet[Review]:
    return Review.objects.filter(test=test).select_related("reviewer").order_by("-created_at", "-id")
