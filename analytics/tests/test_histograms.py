"""The latency histograms of the daily rollups: fixed buckets, lossless storage, percentiles within the
documented error; past days' percentiles really come from them, and live-only ranges stay exact."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics import histograms, services
from analytics.models import DailyModelUsage, DailyUsage
from analytics.tests.helpers import expected, insert_runs, known_runs
from providers.models import Run

FRACTIONS = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0)


def test_buckets_are_fixed_log_spaced_from_one_millisecond_to_ten_minutes() -> None:
    edges = histograms.LOWER_EDGES
    assert edges[:3] == (0, 1, 2)
    assert edges[-1] == histograms.TOP_MS == 600_000
    assert list(edges) == sorted(set(edges))
    assert 100 <= histograms.BUCKETS <= 256
    assert all(1.05 <= b / a <= 1.07 for a, b in itertools.pairwise(edges[:-1]) if a >= 100)  # log-spaced
    assert all((b - 1 - a) / a <= histograms.MAX_RELATIVE_ERROR for a, b in itertools.pairwise(edges[1:]))
    assert 0.05 < histograms.MAX_RELATIVE_ERROR <= histograms.MAX_ERROR_PERCENT / 100
    assert f"<= {histograms.MAX_ERROR_PERCENT:g}% error" in histograms.APPROXIMATE


def test_encoding_keeps_every_count() -> None:
    rng = np.random.default_rng(3)
    counts = np.where(rng.random(histograms.BUCKETS) < 0.2, rng.integers(1, 2**32 - 1, histograms.BUCKETS), 0)
    blob = histograms.encode(counts)
    assert len(blob) == np.count_nonzero(counts) * histograms.ENTRY.itemsize
    assert (histograms.decode(blob) == counts).all()
    assert (histograms.decode(memoryview(blob)) == counts).all()
    assert (histograms.decode(b"") == 0).all()


@pytest.mark.parametrize("seed", range(40))
def test_percentiles_are_within_the_documented_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    values = np.minimum(rng.lognormal(rng.uniform(3, 9), rng.uniform(0.2, 2), n).astype(np.int64), 599_999)
    got = histograms.percentiles(histograms.counts_of(values), FRACTIONS, largest=float(values.max()))
    for fraction, estimate in zip(FRACTIONS, got, strict=True):
        exact = float(np.percentile(values, fraction * 100))
        assert estimate is not None
        assert abs(estimate - exact) <= histograms.MAX_RELATIVE_ERROR * exact + 1e-9, (fraction, estimate, exact)


def test_milliseconds_below_the_log_buckets_are_exact() -> None:
    values = np.random.default_rng(5).integers(0, 17, 999)  # buckets of one millisecond
    got = histograms.percentiles(histograms.counts_of(values), FRACTIONS)
    assert got == pytest.approx([float(np.percentile(values, f * 100)) for f in FRACTIONS])


def test_calls_over_ten_minutes_stay_between_ten_minutes_and_the_largest() -> None:
    values = [1_000] * 10 + [700_000, 2_000_000]
    p99, top = histograms.percentiles(histograms.counts_of(values), (0.99, 1.0), largest=2_000_000)
    assert p99 is not None and top is not None
    assert histograms.TOP_MS <= p99 <= top <= 2_000_000


def test_no_values_no_percentiles() -> None:
    assert histograms.percentiles(np.zeros(histograms.BUCKETS, dtype=np.int64), (0.5,)) == [None]


# --- through the rollups ------------------------------------------------------------------------
def test_rollup_rows_hold_the_histograms_of_their_runs(team: Any) -> None:
    data = known_runs(team.workspace, [team.owner, team.editor])
    services.rollups_refresh()
    rows = list(DailyUsage.objects.all())
    assert rows
    for row in rows:
        latency = histograms.decode(row.latency_hist)
        ttft = histograms.decode(row.ttft_hist)
        if row.status == "error":
            assert not latency.any() and not ttft.any()
            continue
        assert latency.sum() == row.latency_count
        assert ttft.sum() == row.ttft_count
        runs = data.select(
            day=row.day,
            provider=row.provider,
            model=row.model,
            prompt_version_id=row.prompt_version_id,
            user_id=row.user_id,
            source=row.source,
            status="ok",
        )
        latencies = [r["latency_ms"] for r in runs if r["latency_ms"] is not None]
        assert (latency == histograms.counts_of(latencies)).all()
        assert row.latency_max == (max(latencies) if latencies else None)


def test_past_days_percentiles_come_from_the_rollups(team: Any, api: Any) -> None:
    """Once rolled up, the past days' runs are not read again: delete them and the figures remain."""
    data = known_runs(team.workspace, [team.owner, team.editor])
    services.rollups_refresh()
    today = data.days[-1]
    Run.objects.filter(
        workspace=team.workspace, created_at__lt=datetime(today.year, today.month, today.day, tzinfo=UTC)
    ).delete()
    response = api(team.viewer).get(
        reverse("api:analytics-summary"),
        {"workspace": team.workspace.pk, "from": data.days[0].isoformat(), "to": today.isoformat()},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["percentiles_method"] == histograms.APPROXIMATE
    want = expected(data.rows)
    assert body["totals"]["calls"] == want["calls"]
    for name in ("latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99"):
        assert body["percentiles"][f"{name}_ms"] == pytest.approx(want[name], rel=histograms.MAX_RELATIVE_ERROR), name


def test_a_range_of_live_days_only_stays_exact(team: Any, api: Any) -> None:
    data = known_runs(team.workspace, [team.owner])
    services.rollups_refresh()
    today = data.days[-1].isoformat()
    response = api(team.viewer).get(
        reverse("api:analytics-breakdown"), {"workspace": team.workspace.pk, "from": today, "to": today, "by": "source"}
    )
    body = response.json()
    assert body["percentiles_method"] == histograms.EXACT
    for row in body["rows"]:
        want = expected(data.select(day=data.days[-1], source=row["key"]))
        assert row["percentiles"]["latency_p95_ms"] == pytest.approx(want["latency_p95"])


def test_a_slow_call_in_the_rollups_bounds_the_top_bucket(team: Any, api: Any) -> None:
    yesterday = timezone.now().astimezone(UTC).date() - timedelta(days=1)
    created = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    run = {"workspace_id": team.workspace.pk, "created_at": created, "provider": "openai", "model": "gpt-4o-mini"}
    rows = [{**run, "latency_ms": 900 + i} for i in range(98)]
    rows += [{**run, "latency_ms": ms} for ms in (650_000, 1_200_000)]
    insert_runs(rows)
    services.rollups_refresh()
    response = api(team.viewer).get(
        reverse("api:analytics-summary"),
        {"workspace": team.workspace.pk, "from": yesterday.isoformat(), "to": yesterday.isoformat()},
    )
    percentiles = response.json()["percentiles"]
    assert histograms.TOP_MS <= percentiles["latency_p99_ms"] <= 1_200_000
    assert percentiles["latency_p50_ms"] == pytest.approx(949.5, rel=histograms.MAX_RELATIVE_ERROR)


def test_per_model_rollups_are_the_full_rollups_summed(team: Any) -> None:
    known_runs(team.workspace, [team.owner, team.editor, team.viewer])
    services.rollups_refresh()
    fine: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in DailyUsage.objects.all():
        key = (row.day, row.workspace_id, row.provider, row.model, row.status)
        into = fine.setdefault(key, {"calls": 0, "cost": 0, "latency_sum": 0, "latency": 0, "ttft": 0, "max": None})
        into["calls"] += row.calls
        into["cost"] += row.cost
        into["latency_sum"] += row.latency_sum
        into["latency"] = into["latency"] + histograms.decode(row.latency_hist)
        into["ttft"] = into["ttft"] + histograms.decode(row.ttft_hist)
        if row.latency_max is not None:
            into["max"] = max(into["max"] or 0, row.latency_max)
    coarse = list(DailyModelUsage.objects.all())
    assert len(coarse) == len(fine) < DailyUsage.objects.count()
    for row in coarse:
        want = fine[row.day, row.workspace_id, row.provider, row.model, row.status]
        assert (row.calls, row.cost, row.latency_sum, row.latency_max) == (
            want["calls"],
            want["cost"],
            want["latency_sum"],
            want["max"],
        )
        assert (histograms.decode(row.latency_hist) == want["latency"]).all()
        assert (histograms.decode(row.ttft_hist) == want["ttft"]).all()
        assert len(row.latency_hist) == np.count_nonzero(want["latency"]) * histograms.ENTRY.itemsize


@pytest.mark.parametrize(
    ("params", "table"),
    [
        ({}, "analytics_dailymodelusage"),
        ({"model": "gpt-4o-mini"}, "analytics_dailymodelusage"),
        ({"source": "api"}, "analytics_dailyusage"),
    ],
)
def test_questions_about_models_only_read_the_per_model_rollups(
    team: Any, api: Any, params: dict[str, str], table: str
) -> None:
    data = known_runs(team.workspace, [team.owner])
    services.rollups_refresh()
    with CaptureQueriesContext(connection) as queries:
        response = api(team.viewer).get(
            reverse("api:analytics-summary"), {"workspace": team.workspace.pk, "from": data.days[0], **params}
        )
    assert response.status_code == 200
    rollup_sql = [q["sql"] for q in queries.captured_queries if "analytics_daily" in q["sql"]]
    assert rollup_sql and all(f'"{table}"' in sql for sql in rollup_sql)
