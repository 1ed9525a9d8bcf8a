"""Rollups are idempotent and contiguous; the Celery task refreshes them; seed_runs and the demo seeder
make realistic runs whose figures the API reports exactly."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from analytics import demo, histograms, selectors, services, tasks
from analytics.models import DailyUsage, RollupState
from analytics.tests.helpers import expected, known_runs
from providers.models import Run


def _snapshot() -> list[str]:
    fields = (
        "day",
        "workspace_id",
        "provider",
        "model",
        "prompt_version_id",
        "user_id",
        "source",
        "status",
        "calls",
        "cost",
        "latency_sum",
    )
    return sorted(repr(row) for row in DailyUsage.objects.values_list(*fields))


def test_refreshing_rollups_twice_gives_the_same_rows(team: Any) -> None:
    known_runs(team.workspace, [team.owner, team.editor])
    first = tasks.refresh_rollups()
    assert first["rows"] > 0
    rows = _snapshot()
    services.rollups_refresh(start=timezone.now().astimezone(UTC).date() - timedelta(days=10))
    assert _snapshot() == rows
    tasks.refresh_rollups()
    assert _snapshot() == rows
    assert RollupState.objects.get().through == timezone.now().astimezone(UTC).date() - timedelta(days=1)


def test_rollups_never_cover_today(team: Any) -> None:
    known_runs(team.workspace, [team.owner])
    services.rollups_refresh()
    today = timezone.now().astimezone(UTC).date()
    assert not DailyUsage.objects.filter(day__gte=today).exists()


def test_a_run_finishing_after_the_refresh_is_counted_by_the_next_one(team: Any) -> None:
    data = known_runs(team.workspace, [team.owner])
    services.rollups_refresh()
    yesterday = data.days[-2]
    late = Run.objects.filter(workspace=team.workspace, status="running", created_at__date=yesterday).first()
    assert late is not None
    Run.objects.filter(pk=late.pk).update(status="ok", cost=Decimal("1.5"), latency_ms=777)
    services.rollups_refresh()
    filters = selectors.Filters(workspace_id=team.workspace.pk, start=yesterday, end=yesterday)
    assert selectors.summary(filters).totals == selectors.summary(filters, through=None).totals


def test_seed_runs_command_makes_realistic_runs_and_rollups(team: Any, api: Any) -> None:
    out = StringIO()
    call_command("seed_runs", "--count", "3000", "--workspace", str(team.workspace.pk), "--days", "20", stdout=out)
    assert "Added 3,000 runs" in out.getvalue()
    runs = Run.objects.filter(workspace=team.workspace)
    assert runs.count() == 3000
    assert 0.01 < runs.filter(status="error").count() / 3000 < 0.08
    assert runs.filter(status="ok", cost__gt=0).exists()
    assert runs.filter(status="ok", ttft_ms__isnull=False).exists()
    assert set(runs.values_list("source", flat=True)) <= {"playground", "abtest", "api"}
    assert runs.values("model").distinct().count() > 1
    assert selectors.rollup_through() is not None
    response = api(team.viewer).get(
        reverse("api:analytics-summary"),
        {
            "workspace": team.workspace.pk,
            "from": (timezone.now().astimezone(UTC).date() - timedelta(days=25)).isoformat(),
        },
    )
    rows = list(
        runs.values(
            "status",
            "cost",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "latency_ms",
            "ttft_ms",
            "created_at",
        )
    )
    want = expected(rows)
    body = response.json()
    assert body["totals"]["calls"] == 3000
    assert Decimal(str(body["totals"]["cost"])) == want["cost"]
    assert body["percentiles_method"] == histograms.APPROXIMATE  # seed_runs rolls the past days up
    assert body["percentiles"]["latency_p95_ms"] == pytest.approx(
        want["latency_p95"], rel=histograms.MAX_RELATIVE_ERROR
    )


@pytest.mark.parametrize(
    "args", [["--count", "0"], ["--count", "5", "--workspace", "999999"], ["--count", "5", "--days", "0"]]
)
def test_seed_runs_refuses_bad_arguments(db: Any, args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("seed_runs", *args, stdout=StringIO())


def test_demo_seed_is_idempotent(team: Any) -> None:
    demo.seed(workspace=team.workspace, user=team.owner)
    count = Run.objects.filter(workspace=team.workspace).count()
    assert count == demo.DEMO_RUNS
    demo.seed(workspace=team.workspace, user=team.owner)
    assert Run.objects.filter(workspace=team.workspace).count() == count
