"""Reads for datasets (the pages and the API share these)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from abtests.models import ABTest, Dataset, DatasetRow, DatasetSnapshot, Review, Trial, TrialStatus, Variant
from accounts.models import Role
from studio.ids import parse_id
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
TRIAL_STATUS_INVALID = "status must be one of: {choices}."


def trial_list(*, test: ABTest, variant: Any = None, status: str = "", passed: Any = None) -> QuerySet[Trial]:
    """A test's trials (filter by variant id, status, passed), in cell order, variant joined."""
    trials = Trial.objects.filter(test=test).select_related("variant")
    if variant not in (None, ""):
        variant_id = parse_id(variant)
        trials = trials.none() if variant_id is None else trials.filter(variant_id=variant_id)
    if status:
        if status not in TrialStatus.values:
            from django.core.exceptions import ValidationError

            raise ValidationError({"status": [TRIAL_STATUS_INVALID.format(choices=", ".join(TrialStatus.values))]})
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


# --- pages: list verdicts and blind review items (added for the A/B test pages) ---------------------
def abtest_verdicts(*, tests: list[ABTest]) -> dict[int, dict[str, Any]]:
    """For the finished tests among ``tests``: ``{test id: {"winner", "verdict", "significant"}}``.

    Two queries whatever the number of tests (their variants, then their successful trials' outcomes),
    with the same comparison as ``abtests.results.test_results``.
    """
    from abtests.statistics import Outcome, compare_variants

    finished = {t.pk: t for t in tests if t.is_finished}
    if not finished:
        return {}
    variants: dict[int, list[Variant]] = {}
    for variant in Variant.objects.filter(test_id__in=list(finished)).order_by("test_id", "order", "id"):
        variants.setdefault(variant.test_id, []).append(variant)
    outcomes: dict[int, list[Outcome]] = {}
    for variant_id, row, rep, passed, score in Trial.objects.filter(
        test_id__in=list(finished), status=TrialStatus.OK
    ).values_list("variant_id", "row_index", "repetition", "passed", "score"):
        value = float(score if score is not None else (1.0 if passed else 0.0))
        outcomes.setdefault(variant_id, []).append(Outcome(key=(row, rep), passed=bool(passed), score=value))
    verdicts: dict[int, dict[str, Any]] = {}
    for test_id, test in finished.items():
        arms = variants.get(test_id, [])
        control = next((v for v in arms if v.pk == test.control_id), arms[0] if arms else None)
        others = [v for v in arms if control is not None and v.pk != control.pk]
        if control is None or not others or not any(outcomes.get(v.pk) for v in arms):
            continue
        result = compare_variants(
            outcomes.get(control.pk, []),
            {v.name: outcomes.get(v.pk, []) for v in others},
            control_name=control.name,
            pairs_per_row=max(1, test.repetitions),
        )
        verdicts[test_id] = {"winner": result.winner, "verdict": result.verdict, "significant": result.significant}
    return verdicts


def review_next_pair(*, test: ABTest, reviewer: Any, rng: Any) -> tuple[Trial, Trial] | None:
    """A random pair of successful trials of the same row and repetition from two different variants,
    not yet judged by ``reviewer``, in random left/right order; None when every pair is done."""
    from abtests.models import TrialStatus

    cells: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for pk, variant_id, row, rep in Trial.objects.filter(test=test, status=TrialStatus.OK).values_list(
        "id", "variant_id", "row_index", "repetition"
    ):
        cells.setdefault((row, rep), []).append((pk, variant_id))
    seen = {
        frozenset((a, b))
        for a, b in Review.objects.filter(test=test, reviewer=reviewer, trial_b__isnull=False).values_list(
            "trial_a_id", "trial_b_id"
        )
    }
    candidates = [
        (first[0], second[0])
        for trials in cells.values()
        for i, first in enumerate(trials)
        for second in trials[i + 1 :]
        if first[1] != second[1] and frozenset((first[0], second[0])) not in seen
    ]
    if not candidates:
        return None
    pair = list(rng.choice(candidates))
    rng.shuffle(pair)
    found = {t.pk: t for t in Trial.objects.filter(pk__in=pair)}
    return found[pair[0]], found[pair[1]]


def review_next_rating(*, test: ABTest, reviewer: Any, rng: Any) -> Trial | None:
    """A random successful trial that ``reviewer`` has not rated yet (None when all are rated)."""
    from abtests.models import TrialStatus

    rated = Review.objects.filter(test=test, reviewer=reviewer, rating__isnull=False).values("trial_a_id")
    ids = list(
        Trial.objects.filter(test=test, status=TrialStatus.OK).exclude(pk__in=rated).values_list("id", flat=True)
    )
    if not ids:
        return None
    return Trial.objects.get(pk=rng.choice(ids))
