"""Weekly rollups: one row per complete week and key, equal to the raw runs of that week; kept up to date by
the refresh and filled by the migration; long ranges read them and still report the exact sums."""

from __future__ import annotations

import importlib
from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics import histograms, selectors, services
from analytics.models import WeeklyUsage
from analytics.tests.helpers import Dataset, expected, known_runs
from analytics.tests.test_figures import assert_figures
from providers.models import Run

DAYS = 24  # three complete weeks at least, and partial ones at both ends


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _raw_weeks(data: Dataset, *, through: date) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per (Monday, key) of every complete week (Sunday <= through): the figures computed from the runs."""
    runs: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in data.rows:
        if row["status"] not in ("ok", "error"):
            continue
        monday = _monday(row["created_at"].date())
        if monday + timedelta(days=6) > through:
            continue
        key = (
            monday,
            row["provider"],
            row["model"],
            row["prompt_id"],
            row["prompt_version_id"],
            row["user_id"],
            row["source"],
            row["status"],
        )
        runs[key].append(row)
    weeks = {}
    for key, rows in runs.items():
        ok = [r for r in rows if r["status"] == "ok"]
        latencies = [r["latency_ms"] for r in ok if r["latency_ms"] is not None]
        ttfts = [r["ttft_ms"] for r in ok if r["ttft_ms"] is not None]
        weeks[key] = {
            "calls": len(rows),
            "input_tokens": sum(r["input_tokens"] for r in rows),
            "output_tokens": sum(r["output_tokens"] for r in rows),
            "cost": sum((r["cost"] for r in rows), Decimal(0)),
            "latency_sum": sum(latencies),
            "latency_count": len(latencies),
            "latency_max": max(latencies, default=None),
            "ttft_sum": sum(ttfts),
            "ttft_count": len(ttfts),
            "latency_hist": list(histograms.counts_of(latencies)),
            "ttft_hist": list(histograms.counts_of(ttfts)),
        }
    return weeks


def _stored_weeks() -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (row.day, row.provider, row.model, row.prompt_id, row.prompt_version_id, row.user_id, row.source, row.status): {
            "calls": row.calls,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "cost": row.cost,
            "latency_sum": row.latency_sum,
            "latency_count": row.latency_count,
            "latency_max": row.latency_max,
            "ttft_sum": row.ttft_sum,
            "ttft_count": row.ttft_count,
            "latency_hist": list(histograms.decode(row.latency_hist)),
            "ttft_hist": list(histograms.decode(row.ttft_hist)),
        }
        for row in WeeklyUsage.objects.all()
    }


@pytest.fixture
def data(team: Any) -> Dataset:
    return known_runs(team.workspace, [team.owner, team.editor, team.viewer], days=DAYS, per_day=12)


def test_weekly_rows_equal_the_raw_runs_of_each_complete_week(data: Dataset) -> None:
    services.rollups_refresh()
    through = _today() - timedelta(days=1)
    want = _raw_weeks(data, through=through)
    assert len({key[0] for key in want}) >= 2
    assert _stored_weeks() == want
    assert all(row.day.weekday() == 0 and row.day + timedelta(days=6) <= through for row in WeeklyUsage.objects.all())
    assert all(len(row.latency_hist) % histograms.ENTRY.itemsize == 0 for row in WeeklyUsage.objects.all())


def test_a_week_gets_its_row_once_its_last_day_is_rolled_up(data: Dataset) -> None:
    last_sunday = _monday(_today()) - timedelta(days=1)
    services.rollups_refresh(end=last_sunday - timedelta(days=1))  # the Saturday: that week is not complete
    assert not WeeklyUsage.objects.filter(day=last_sunday - timedelta(days=6)).exists()
    services.rollups_refresh(end=last_sunday)
    assert WeeklyUsage.objects.filter(day=last_sunday - timedelta(days=6)).exists()
    assert _stored_weeks() == _raw_weeks(data, through=last_sunday)
    services.rollups_refresh()
    assert _stored_weeks() == _raw_weeks(data, through=_today() - timedelta(days=1))


def test_recomputing_a_day_recomputes_its_week(team: Any, data: Dataset) -> None:
    services.rollups_refresh()
    day = _monday(_today()) - timedelta(days=10)  # a Friday in a complete week
    run = Run.objects.filter(workspace=team.workspace, status="ok", created_at__date=day).first()
    assert run is not None
    Run.objects.filter(pk=run.pk).update(status="error", cost=Decimal("2.5"), latency_ms=123456)
    for row in data.rows:
        if row["created_at"] == run.created_at and row["status"] == "ok" and row["model"] == run.model:
            row.update(status="error", cost=Decimal("2.5"), latency_ms=123456)
    services.rollups_refresh(start=day)
    assert _stored_weeks() == _raw_weeks(data, through=_today() - timedelta(days=1))


def test_the_migration_fills_the_weeks_the_refresh_makes(data: Dataset) -> None:
    services.rollups_refresh()
    made = _stored_weeks()
    WeeklyUsage.objects.all().delete()
    migration = importlib.import_module("analytics.migrations.0004_weekly_rollups")
    migration.fill_complete_weeks(apps, None)
    assert _stored_weeks() == made


def _thursday(data: Dataset) -> date:
    """A start day with whole weeks after it and a partial week before them."""
    return next(day for day in data.days[1:8] if day.weekday() == 3)


def _approx(want: float | None) -> Any:
    return pytest.approx(want, rel=histograms.MAX_RELATIVE_ERROR + 1e-9)


@pytest.mark.parametrize("params", [{"by": "user"}, {"by": "version"}, {"by": "source", "model": "gpt-4o-mini"}])
def test_long_ranges_with_whole_weeks_report_the_raw_figures(
    team: Any, api: Any, data: Dataset, params: dict[str, str]
) -> None:
    services.rollups_refresh()
    start = _thursday(data)
    query = {"workspace": team.workspace.pk, "from": start.isoformat(), **params}
    in_range = [r for r in data.rows if r["created_at"].date() >= start]
    if "model" in params:
        in_range = [r for r in in_range if r["model"] == params["model"]]
    response = api(team.viewer).get(reverse("api:analytics-summary"), query)
    assert_figures(response.json(), expected(in_range), approximate=True)
    with CaptureQueriesContext(connection) as queries:
        body = api(team.viewer).get(reverse("api:analytics-breakdown"), query).json()
    if connection.vendor == "postgresql":  # a breakdown by anything but the model needs the full key
        assert any('"analytics_weeklyusage"' in q["sql"] for q in queries.captured_queries)
    field = {"version": "prompt_version_id", "user": "user_id"}.get(params["by"], params["by"])
    assert {row["key"] for row in body["rows"]} == {r[field] for r in in_range if r["status"] != "running"}
    for row in body["rows"]:
        assert_figures(row, expected([r for r in in_range if r[field] == row["key"]]), approximate=True)


def test_dashboard_over_weeks_by_version_matches_the_raw_runs(team: Any, data: Dataset) -> None:
    """The benchmark's slowest question: week buckets and a breakdown by version, from one grouped read."""
    services.rollups_refresh()
    start = _thursday(data)
    filters = selectors.Filters(workspace_id=team.workspace.pk, start=start, end=_today())
    board = selectors.dashboard(filters, interval="week", by="version")
    in_range = [r for r in data.rows if r["created_at"].date() >= start]
    for point in board.timeseries.points:
        rows = [r for r in in_range if point.bucket <= r["created_at"].date() < point.bucket + timedelta(days=7)]
        _assert_totals(point.totals, point.percentiles, expected(rows))
    assert sum(p.totals.calls for p in board.timeseries.points) == expected(in_range)["calls"]
    for row in board.breakdown.rows:
        _assert_totals(
            row.totals, row.percentiles, expected([r for r in in_range if r["prompt_version_id"] == row.key])
        )
    _assert_totals(board.summary.totals, board.summary.percentiles, expected(in_range))


def _assert_totals(totals: selectors.Totals, pcts: selectors.Percentiles, want: dict[str, Any]) -> None:
    assert (totals.calls, totals.errors, totals.input_tokens, totals.output_tokens, totals.cost) == (
        want["calls"],
        want["errors"],
        want["input_tokens"],
        want["output_tokens"],
        want["cost"],
    )
    assert totals.latency_mean == pytest.approx(want["latency_mean"])
    for name in ("latency_p50", "latency_p95", "ttft_p50"):
        assert getattr(pcts, name) == _approx(want[name]), name
