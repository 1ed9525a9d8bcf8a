"""Every figure in the API, the dashboard and the CSV equals an independent computation on the raw runs,
whether the days come from the daily rollups or are aggregated live.

Sums, counts and means are exact either way. Percentiles are exact when every day is live and come from
the rollups' histograms once the range includes rolled-up days: then they are checked against numpy's
exact percentile within the documented bucket error (``histograms.MAX_RELATIVE_ERROR``), and the API says
which (``percentiles_method``)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from analytics import histograms, selectors, services
from analytics.filters import Filters
from analytics.tests.helpers import expected, known_runs


@pytest.fixture
def data(team: Any) -> Any:
    return known_runs(team.workspace, [team.owner, team.editor, team.viewer])


@pytest.fixture(params=["live", "rollups"])
def mode(request: Any, data: Any) -> str:
    if request.param == "rollups":
        result = services.rollups_refresh()
        assert result.rows > 0
        assert selectors.rollup_through() == data.days[-2]
    return str(request.param)


def method(mode: str) -> str:
    return histograms.APPROXIMATE if mode == "rollups" else histograms.EXACT


def close(want: float | None, *, approximate: bool) -> Any:
    """Exact figures equal numpy's up to float noise; histogram ones are within the bucket error."""
    if want is None or not approximate:
        return pytest.approx(want)
    return pytest.approx(want, rel=histograms.MAX_RELATIVE_ERROR + 1e-9)


def assert_figures(got: dict[str, Any], want: dict[str, Any], *, api: bool = True, approximate: bool = False) -> None:
    suffix = "_ms" if api else ""
    for name in ("calls", "errors", "ok_calls", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
        assert got["totals"][name] == want[name], name
    assert Decimal(str(got["totals"]["cost"])) == want["cost"]
    if want["cost_per_1k"] is None:
        assert got["totals"]["cost_per_1k_calls"] is None
    else:
        assert Decimal(str(got["totals"]["cost_per_1k_calls"])) == pytest.approx(
            want["cost_per_1k"], rel=Decimal("1e-7")
        )
    for name in ("error_rate",):
        assert got["totals"][name] == pytest.approx(want[name]), name
    assert got["totals"]["latency_mean_ms"] == pytest.approx(want["latency_mean"])
    assert got["totals"]["ttft_mean_ms"] == pytest.approx(want["ttft_mean"])
    for name in ("latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99"):
        assert got["percentiles"][name + suffix] == close(want[name], approximate=approximate), name


def params(team: Any, data: Any, **extra: Any) -> dict[str, Any]:
    return {"workspace": team.workspace.pk, "from": data.days[0].isoformat(), "to": data.days[-1].isoformat(), **extra}


def test_summary_matches_independent_computation(team: Any, api: Any, data: Any, mode: str) -> None:
    response = api(team.viewer).get(reverse("api:analytics-summary"), params(team, data))
    assert response.status_code == 200, response.json()
    assert response.json()["percentiles_method"] == method(mode)
    assert_figures(response.json(), expected(data.rows), approximate=mode == "rollups")


@pytest.mark.parametrize(
    "filters",
    [
        {"provider": "anthropic"},
        {"model": "gpt-4o-mini"},
        {"source": "abtest"},
        {"status": "error"},
        {"status": "ok", "provider": "mistral"},
        {"user": "editor"},
        {"prompt": "Alpha"},
        {"version": "Alpha v2"},
    ],
)
def test_summary_filters_match(team: Any, api: Any, data: Any, mode: str, filters: dict[str, str]) -> None:
    from prompts.models import Prompt, PromptVersion

    query = dict(filters)
    where: dict[str, Any] = {}
    for key, value in filters.items():
        if key == "user":
            query["user"] = getattr(team, value).pk
            where["user_id"] = query["user"]
        elif key == "prompt":
            query["prompt"] = Prompt.objects.get(workspace=team.workspace, name=value).pk
            where["prompt_id"] = query["prompt"]
        elif key == "version":
            name, number = value.split(" v")
            query["version"] = PromptVersion.objects.get(prompt__name=name, number=int(number)).pk
            where["prompt_version_id"] = query["version"]
        else:
            where[key] = value
    response = api(team.viewer).get(reverse("api:analytics-summary"), params(team, data, **query))
    assert response.status_code == 200, response.json()
    rows = data.select(**where)
    assert rows
    assert response.json()["percentiles_method"] == method(mode)
    assert_figures(response.json(), expected(rows), approximate=mode == "rollups")


def test_range_excludes_days_outside(team: Any, api: Any, data: Any, mode: str) -> None:
    day = data.days[1]
    response = api(team.viewer).get(
        reverse("api:analytics-summary"), {"workspace": team.workspace.pk, "from": day, "to": day}
    )
    assert response.json()["percentiles_method"] == method(mode)
    assert_figures(response.json(), expected(data.select(day=day)), approximate=mode == "rollups")


def test_daily_timeseries_matches(team: Any, api: Any, data: Any, mode: str) -> None:
    response = api(team.viewer).get(reverse("api:analytics-timeseries"), params(team, data, interval="day"))
    body = response.json()
    assert response.status_code == 200, body
    assert [p["bucket"] for p in body["points"]] == [d.isoformat() for d in data.days]
    assert body["percentiles_method"] == method(mode)
    for point, day in zip(body["points"], data.days, strict=True):
        assert_figures(point, expected(data.select(day=day)), approximate=mode == "rollups")


def test_hourly_timeseries_matches(team: Any, api: Any, data: Any, mode: str) -> None:
    day = data.days[1]
    response = api(team.viewer).get(
        reverse("api:analytics-timeseries"),
        {"workspace": team.workspace.pk, "from": day, "to": day, "interval": "hour"},
    )
    body = response.json()
    assert body["percentiles_method"] == histograms.EXACT  # hourly buckets always read the runs
    assert len(body["points"]) == 24
    for hour, point in enumerate(body["points"]):
        start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        assert datetime.fromisoformat(point["bucket"]) == start
        rows = [r for r in data.rows if start <= r["created_at"] < start + timedelta(hours=1)]
        assert_figures(point, expected(rows))


def test_weekly_timeseries_matches(team: Any, api: Any, data: Any, mode: str) -> None:
    response = api(team.viewer).get(reverse("api:analytics-timeseries"), params(team, data, interval="week"))
    body = response.json()
    assert body["percentiles_method"] == method(mode)
    total = 0
    for point in body["points"]:
        monday = datetime.fromisoformat(point["bucket"]).date()
        assert monday.weekday() == 0
        rows = [r for r in data.rows if monday <= r["created_at"].date() < monday + timedelta(days=7)]
        assert_figures(point, expected(rows), approximate=mode == "rollups")
        total += point["totals"]["calls"]
    assert total == expected(data.rows)["calls"]


@pytest.mark.parametrize("by", ["provider", "model", "prompt", "version", "user", "source"])
def test_breakdown_matches(team: Any, api: Any, data: Any, mode: str, by: str) -> None:
    response = api(team.viewer).get(reverse("api:analytics-breakdown"), params(team, data, by=by))
    body = response.json()
    assert response.status_code == 200, body
    field = {"prompt": "prompt_id", "version": "prompt_version_id", "user": "user_id"}.get(by, by)
    finished = [r for r in data.rows if r["status"] != "running"]
    if by == "model":
        keys = {(r["provider"], r["model"]) for r in finished}
        got_keys = {tuple(row["key"]) for row in body["rows"]}
    else:
        keys = {r[field] for r in finished}
        got_keys = {row["key"] for row in body["rows"]}
    assert got_keys == keys
    assert body["percentiles_method"] == method(mode)
    for row in body["rows"]:
        if by == "model":
            rows = data.select(provider=row["key"][0], model=row["key"][1])
        else:
            rows = data.select(**{field: row["key"]})
        assert_figures(row, expected(rows), approximate=mode == "rollups")
    costs = [Decimal(str(row["totals"]["cost"])) for row in body["rows"]]
    assert costs == sorted(costs, reverse=True)
    assert_figures(
        {"totals": body["totals"], "percentiles": {}} | {"percentiles": _no_pcts()},
        {**expected(data.rows), **_none_pcts()},
    )


def _no_pcts() -> dict[str, None]:
    return {f"{n}_{p}_ms": None for n in ("latency", "ttft") for p in ("p50", "p95", "p99")}


def _none_pcts() -> dict[str, None]:
    return {f"{n}_{p}": None for n in ("latency", "ttft") for p in ("p50", "p95", "p99")}


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:,.1f} s" if value >= 10_000 else f"{value:,.0f} ms"


def _parse_ms(text: str) -> tuple[float, float]:
    """A duration shown by the ``ms`` filter -> (milliseconds, rounding of the display)."""
    if text.endswith(" s"):
        return float(text[:-2].replace(",", "")) * 1000, 50.0
    return float(text.removesuffix(" ms").replace(",", "")), 0.5


def assert_ms(shown: str, want: float | None, *, approximate: bool) -> None:
    if not approximate or want is None:
        assert shown == _ms(want)
        return
    value, rounding = _parse_ms(shown)
    assert abs(value - want) <= want * histograms.MAX_RELATIVE_ERROR + rounding, (shown, want)


def _kpis(html: str) -> dict[str, str]:
    return {
        name: re.sub(r"\s+", " ", value).strip()
        for name, value in re.findall(r'data-kpi="([a-z0-9-]+)">([^<]*)<', html)
    }


def test_dashboard_shows_the_same_figures(team: Any, client: Any, data: Any, mode: str) -> None:
    client.force_login(team.viewer)
    response = client.get(reverse("analytics:dashboard"), {"from": data.days[0], "to": data.days[-1], "by": "provider"})
    assert response.status_code == 200
    html = response.content.decode()
    want = expected(data.rows)
    kpis = _kpis(html)
    assert kpis["calls"] == f"{want['calls']:,}"
    assert kpis["error-rate"] == f"{want['error_rate'] * 100:.1f}%"
    assert kpis["cost"] == f"${want['cost']:,.2f}"
    assert kpis["input-tokens"] == f"{want['input_tokens']:,}"
    assert kpis["output-tokens"] == f"{want['output_tokens']:,}"
    assert kpis["cached-tokens"] == f"{want['cached_tokens']:,}"
    approximate = mode == "rollups"
    for name in ("latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99"):
        assert_ms(kpis[name.replace("_", "-")], want[name], approximate=approximate)
    for name in ("latency_mean", "ttft_mean"):  # sums and counts: exact either way
        assert kpis[name.replace("_", "-")] == _ms(want[name]), name
    # Approximate percentiles say so next to the range.
    assert ('data-percentiles-method="approximate"' in html) is approximate
    if approximate:
        assert histograms.APPROXIMATE in unescape(html)
    # The breakdown table: one row per provider with its calls and cost.
    table = html.split('data-breakdown="provider"')[1].split("</table>")[0]
    for provider, label in (("openai", "OpenAI"), ("anthropic", "Anthropic"), ("mistral", "Mistral")):
        rows = expected(data.select(provider=provider))
        row_html = table.split(f">{label}</a>")[1].split("</tr>")[0]
        cells = re.findall(r'<td class="num">([^<]*)</td>', row_html)
        assert cells[0] == f"{rows['calls']:,}"
        assert cells[1] == f"{rows['error_rate'] * 100:.1f}%"
        assert cells[2] == f"${rows['cost']:,.2f}"
        assert_ms(cells[4], rows["latency_p50"], approximate=approximate)


def test_breakdown_csv_matches(team: Any, client: Any, data: Any, mode: str) -> None:
    client.force_login(team.viewer)
    response = client.get(
        reverse("analytics:export"),
        {"table": "breakdown", "by": "model", "from": data.days[0], "to": data.days[-1]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows
    for row in rows:
        want = expected(data.select(provider=row["provider"], model=row["model"]))
        assert int(row["calls"]) == want["calls"]
        assert Decimal(row["cost_usd"]) == want["cost"]
        assert row["percentiles_method"] == method(mode)
        if mode == "live":
            assert float(row["latency_p95_ms"]) == pytest.approx(want["latency_p95"], abs=0.05)
        else:
            assert float(row["latency_p95_ms"]) == pytest.approx(
                want["latency_p95"], rel=histograms.MAX_RELATIVE_ERROR, abs=0.05
            )


@pytest.mark.parametrize("table", ["summary", "timeseries"])
def test_other_csv_tables_download(team: Any, client: Any, data: Any, table: str) -> None:
    client.force_login(team.viewer)
    response = client.get(reverse("analytics:export"), {"table": table, "from": data.days[0], "to": data.days[-1]})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sum(int(r["calls"]) for r in rows) == expected(data.rows)["calls"]


def test_prompt_usage_per_version(team: Any, client: Any, data: Any, mode: str) -> None:
    from prompts.models import Prompt

    prompt = Prompt.objects.get(workspace=team.workspace, name="Alpha")
    client.force_login(team.viewer)
    url = reverse("analytics:prompt-usage", args=[prompt.pk])
    response = client.get(url, {"from": data.days[0], "to": data.days[-1]})
    assert response.status_code == 200
    rows = selectors.prompt_version_usage(
        Filters(workspace_id=team.workspace.pk, start=data.days[0], end=data.days[-1]), prompt=prompt
    )
    assert [r.label for r in rows] == ["v2", "v1"]
    for row in rows:
        want = expected(data.select(prompt_version_id=row.version_id))
        assert row.totals.calls == want["calls"]
        assert row.totals.cost == want["cost"]
        assert row.percentiles_method == method(mode)
        assert row.percentiles.latency_p95 == close(want["latency_p95"], approximate=mode == "rollups")
        assert f"{want['calls']:,}" in response.content.decode()
    assert ('data-percentiles-method="approximate"' in response.content.decode()) is (mode == "rollups")
    csv_response = client.get(
        reverse("analytics:export"),
        {"table": "versions", "prompt": prompt.pk, "from": data.days[0], "to": data.days[-1]},
    )
    versions = list(csv.DictReader(io.StringIO(csv_response.content.decode())))
    assert [v["version"] for v in versions] == ["v2", "v1"]


def test_month_estimate_projects_linearly(team: Any, data: Any) -> None:
    now = datetime.now(UTC)
    estimate = selectors.month_estimate(
        Filters(workspace_id=team.workspace.pk, start=data.days[0], end=data.days[-1]), now=now
    )
    first = now.date().replace(day=1)
    spent = sum(
        (
            r["cost"]
            for r in data.rows
            if r["status"] != "running" and r["created_at"].date() >= first and r["created_at"] <= now
        ),
        Decimal(0),
    )
    assert estimate.spent == spent
    elapsed = (now - datetime(first.year, first.month, 1, tzinfo=UTC)).total_seconds() / 86400
    import calendar

    days_in_month = calendar.monthrange(first.year, first.month)[1]
    assert float(estimate.projected) == pytest.approx(float(spent) * days_in_month / max(elapsed, 1 / 24), rel=1e-6)
    assert estimate.days_in_month == days_in_month
