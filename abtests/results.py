"""Results of an A/B test: per-variant figures, paired comparisons with the control, progress, drill-down.

* ``test_results(test)``: per variant n, pass rate with its Wilson 95% interval, mean score with its
  interval, latency p50/p95, tokens, total and per-call cost, errors; each variant against the
  control on the same (row, repetition) cells via ``abtests.statistics.compare_variants`` (McNemar
  exact for pass/fail, Wilcoxon signed-rank for scores, Holm when there are several variants),
  a winner only when significant, otherwise the verdict with the rows needed. Plus ``progress``.
* ``test_progress(test)``: counts, rate (cells per minute), cost so far, ETA - from the test's
  counters (no aggregate over the Trials except one count of running cells).
* ``row_drilldown(test, ...)``: each dataset row's inputs and every variant's outputs side by side,
  rows with failures first; a constant number of queries whatever the page size.

Only finished, successful calls (Trial status ``ok``) enter the statistics; errors are counted apart
(a provider outage says nothing about a prompt).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from abtests.models import ABTest, Trial, TrialStatus, Variant
from abtests.statistics import Interval, Outcome, compare_variants, mean_interval, p50, p95, wilson_interval


def _interval(value: Interval) -> dict[str, Any]:
    return {"estimate": value.estimate, "low": value.low, "high": value.high, "confidence": value.confidence}


def test_progress(test: ABTest) -> dict[str, Any]:
    """Counts, rate, cost so far and ETA of a test (live while it runs)."""
    running = Trial.objects.filter(test=test, status=TrialStatus.RUNNING).count() if test.is_active else 0
    total, finished = test.total_cells, test.finished_cells
    end = test.finished_at or timezone.now()
    elapsed = (end - test.started_at).total_seconds() if test.started_at else 0.0
    rate = finished / elapsed * 60 if elapsed > 0 and finished else None
    remaining = max(0, total - finished)
    skipped = (
        Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).count() if test.is_finished and remaining else 0
    )
    eta = remaining / rate * 60 if rate and test.is_active else None
    return {
        "status": test.status,
        "reason": test.reason,
        "total": total,
        "finished": finished,
        "failed": test.failed_cells,
        "running": running,
        "pending": max(0, remaining - running - skipped),
        "skipped": skipped,
        "percent": round(finished / total * 100, 1) if total else 0.0,
        "cells_per_minute": round(rate, 1) if rate else None,
        "elapsed_seconds": round(elapsed, 1),
        "eta_seconds": round(eta) if eta is not None else None,
        "cost_spent": str(test.cost_spent),
        "cost_cap": str(test.cost_cap) if test.cost_cap is not None else None,
        "rate_limited": test.rate_limited,
        "started_at": test.started_at,
        "finished_at": test.finished_at,
    }


def _outcomes(test: ABTest) -> tuple[dict[int, list[Outcome]], dict[int, int]]:
    by_variant: dict[int, list[Outcome]] = {}
    errors: dict[int, int] = {}
    rows = Trial.objects.filter(test=test, status__in=(TrialStatus.OK, TrialStatus.ERROR)).values_list(
        "variant_id",
        "row_index",
        "repetition",
        "status",
        "passed",
        "score",
        "latency_ms",
        "cost",
        "input_tokens",
        "output_tokens",
    )
    for variant_id, row, rep, status, passed, score, latency, cost, tokens_in, tokens_out in rows:
        if status == TrialStatus.ERROR:
            errors[variant_id] = errors.get(variant_id, 0) + 1
            continue
        by_variant.setdefault(variant_id, []).append(
            Outcome(
                key=(row, rep),
                passed=bool(passed),
                score=float(score if score is not None else (1.0 if passed else 0.0)),
                latency_ms=float(latency) if latency is not None else None,
                cost=float(cost),
                tokens=int(tokens_in + tokens_out),
            )
        )
    return by_variant, errors


def _summary(variant: Variant, outcomes: list[Outcome], errors: int) -> dict[str, Any]:
    n = len(outcomes)
    passes = sum(1 for o in outcomes if o.passed)
    latencies = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    cost = sum(o.cost or 0.0 for o in outcomes)
    return {
        "id": variant.pk,
        "name": variant.name,
        "provider": variant.provider,
        "model": variant.model,
        "prompt_version": variant.prompt_version_id,
        "n": n,
        "passes": passes,
        "errors": errors,
        "pass_rate": _interval(wilson_interval(passes, n)),
        "mean_score": _interval(mean_interval([o.score for o in outcomes])),
        "latency_p50_ms": p50(latencies),
        "latency_p95_ms": p95(latencies),
        "tokens": sum(o.tokens or 0 for o in outcomes),
        "total_cost": round(cost, 8),
        "cost_per_call": round(cost / n, 10) if n else None,
    }


def test_results(test: ABTest) -> dict[str, Any]:
    """Per-variant figures, the comparison with the control, and progress (a handful of queries)."""
    variants = list(test.variants.order_by("order", "id"))
    control = next((v for v in variants if v.pk == test.control_id), variants[0] if variants else None)
    by_variant, errors = _outcomes(test)
    summaries = [_summary(v, by_variant.get(v.pk, []), errors.get(v.pk, 0)) for v in variants]
    comparison: dict[str, Any] | None = None
    others = [v for v in variants if control is not None and v.pk != control.pk]
    if control is not None and others and by_variant:
        result = compare_variants(
            by_variant.get(control.pk, []),
            {v.name: by_variant.get(v.pk, []) for v in others},
            control_name=control.name,
            pairs_per_row=max(1, test.repetitions),
        )
        comparison = {
            "alpha": result.alpha,
            "primary": result.primary,
            "significant": result.significant,
            "winner": result.winner,
            "verdict": result.verdict,
            "notes": result.notes,
            "variants": [
                {
                    "name": v.name,
                    "n_pairs": v.n_pairs,
                    "both_pass": v.both_pass,
                    "control_only": v.control_only,
                    "variant_only": v.variant_only,
                    "neither": v.neither,
                    "pass_rate_difference": _interval(v.pass_rate_difference),
                    "mean_score_difference": v.mean_score_difference,
                    "rank_biserial": v.rank_biserial,
                    "p_pass": v.p_pass,
                    "p_pass_adjusted": v.p_pass_adjusted,
                    "p_score": v.p_score,
                    "p_score_adjusted": v.p_score_adjusted,
                    "wilcoxon_note": asdict(v.wilcoxon).get("note", ""),
                    "significant": v.significant,
                    "direction": v.direction,
                    "rows_needed": v.rows_needed,
                    "more_rows_needed": v.more_rows_needed,
                    "verdict": v.verdict,
                }
                for v in result.variants
            ],
        }
    return {
        "test": test.pk,
        "control": control.name if control else None,
        "variants": summaries,
        "comparison": comparison,
        "progress": test_progress(test),
    }


def row_drilldown(
    test: ABTest, *, failures_first: bool = True, offset: int = 0, limit: int = 20, variant_id: int | None = None
) -> dict[str, Any]:
    """One page of dataset rows: inputs and every variant's outputs side by side, failures first.

    Three queries whatever ``limit``: the row order (failures per row, counted in the database),
    the trials of the page's rows, and the variants. Inputs come from the frozen snapshot.
    """
    order = (
        Trial.objects.filter(test=test)
        .values("row_index")
        .annotate(failures=Count("id", filter=Q(status=TrialStatus.ERROR) | Q(passed=False)))
        .order_by(*(["-failures", "row_index"] if failures_first else ["row_index"]))
    )
    total_rows = test.snapshot.row_count if test.snapshot else 0
    page = list(order[offset : offset + limit])
    indexes = [p["row_index"] for p in page]
    trials = Trial.objects.filter(test=test, row_index__in=indexes).order_by("row_index", "variant_id", "repetition")
    if variant_id is not None:
        trials = trials.filter(variant_id=variant_id)
    variants = list(test.variants.order_by("order", "id"))
    by_row: dict[int, dict[int, list[Trial]]] = {}
    for trial in trials:
        by_row.setdefault(trial.row_index, {}).setdefault(trial.variant_id, []).append(trial)
    rows = []
    for entry in page:
        index = entry["row_index"]
        rows.append(
            {
                "row_index": index,
                "inputs": test.snapshot.row_values(index) if test.snapshot else {},
                "failures": entry["failures"],
                "variants": [
                    {"variant": v.pk, "name": v.name, "trials": by_row.get(index, {}).get(v.pk, [])} for v in variants
                ],
            }
        )
    return {
        "columns": test.snapshot.columns if test.snapshot else [],
        "rows": rows,
        "total_rows": total_rows,
        "offset": offset,
        "limit": limit,
    }
