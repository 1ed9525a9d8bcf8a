"""Query counts of the dashboard and the endpoints do not grow with the number of runs or models."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics import services
from analytics.tests.helpers import insert_runs, make_prompt
from providers.models import ModelInfo

MODELS = list(
    [("openai", f"bench-model-{i}") for i in range(4)] + [("anthropic", f"bench-model-{i}") for i in range(4, 8)]
)


def fill(team: Any, *, runs: int, models: int) -> None:
    for provider, model in MODELS[:models]:
        ModelInfo.objects.get_or_create(provider=provider, model_id=model, defaults={"display_name": model})
    _, versions = make_prompt(team.workspace, f"P{runs}-{models}", 3)
    rng = random.Random(runs * 100 + models)
    today = timezone.now().astimezone(UTC).date()
    now = timezone.now()
    rows = []
    for i in range(runs):
        provider, model = MODELS[i % models]
        day = today - timedelta(days=i % 5)
        created = min(
            datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=rng.randrange(1440)),
            now - timedelta(seconds=1),
        )
        rows.append(
            {
                "workspace_id": team.workspace.pk,
                "user_id": [team.owner, team.editor, team.viewer][i % 3].pk,
                "prompt_id": versions[i % 3].prompt_id,
                "prompt_version_id": versions[i % 3].pk,
                "provider": provider,
                "model": model,
                "source": ["api", "playground", "abtest"][i % 3],
                "status": "error" if i % 7 == 0 else "ok",
                "cost": Decimal("0.001") * (i % 9),
                "latency_ms": 100 + i,
                "ttft_ms": 20 + i if i % 2 else None,
                "input_tokens": i,
                "output_tokens": 2 * i,
                "created_at": created,
            }
        )
    insert_runs(rows)


REQUESTS = [
    ("page", "analytics:dashboard", {"by": "model", "from": "-6"}),
    ("page", "analytics:dashboard", {"by": "user", "interval": "hour", "from": "-1"}),
    ("page", "analytics:dashboard", {"by": "version", "provider": "openai"}),
    ("api", "api:analytics-summary", {}),
    ("api", "api:analytics-timeseries", {"interval": "day", "from": "-6"}),
    ("api", "api:analytics-breakdown", {"by": "model"}),
    ("api", "api:analytics-breakdown", {"by": "prompt"}),
    ("api", "api:analytics-breakdown", {"by": "version"}),
    ("csv", "analytics:export", {"table": "breakdown", "by": "user"}),
]


def _params(team: Any, kind: str, extra: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = dict(extra)
    if params.get("from", "").startswith("-"):
        days = int(params["from"][1:])
        params["from"] = (timezone.now().astimezone(UTC).date() - timedelta(days=days)).isoformat()
    if kind == "api":
        params["workspace"] = team.workspace.pk
    return params


def _count(team: Any, client: Any, api_client: Any, kind: str, name: str, extra: dict[str, str]) -> int:
    target = api_client if kind == "api" else client
    with CaptureQueriesContext(connection) as queries:
        response = target.get(reverse(name), _params(team, kind, extra))
    assert response.status_code == 200, response.content[:500]
    return len(queries)


@pytest.mark.parametrize("rolled_up", [False, True])
def test_query_counts_do_not_grow_with_runs_or_models(
    team: Any, client: Any, api: Any, django_assert_num_queries: Any, rolled_up: bool
) -> None:
    client.force_login(team.owner)
    api_client = api(team.owner)
    fill(team, runs=10, models=2)
    if rolled_up:
        services.rollups_refresh()
    small = [_count(team, client, api_client, kind, name, extra) for kind, name, extra in REQUESTS]

    fill(team, runs=200, models=8)
    if rolled_up:
        services.rollups_refresh()
    for (kind, name, extra), expected in zip(REQUESTS, small, strict=True):
        target = api_client if kind == "api" else client
        with django_assert_num_queries(expected):
            response = target.get(reverse(name), _params(team, kind, extra))
        assert response.status_code == 200


def test_budget_indicator_costs_the_pages_nothing(team: Any, client: Any, django_assert_num_queries: Any) -> None:
    """The top bar loads the indicator after the page: other pages' pinned counts are unchanged."""
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="10", hard_stop=False)
    client.force_login(team.owner)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("accounts:settings"))
    assert not any("analytics_" in q["sql"] for q in queries.captured_queries)
