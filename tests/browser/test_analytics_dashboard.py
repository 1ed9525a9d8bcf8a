"""The analytics dashboard in Chromium: charts drawn as SVG, the date range and a filter change the
figures through HTMX and stay in the URL, and the page shows no CSP or script errors."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics import services
from analytics.tests.helpers import expected, known_runs

pytestmark = pytest.mark.browser


def test_dashboard_draws_charts_and_follows_range_and_filter(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    data = known_runs(team.workspace, [team.owner, team.editor, team.viewer], per_day=60, days=10)
    services.rollups_refresh()  # past days from the rollups, as the Celery task leaves them
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="5", hard_stop=False)
    login(page, team.admin, team.password)

    page.goto("/analytics/")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(4)
    expect(page.locator('[data-chart="calls"] rect.bar')).not_to_have_count(0)
    expect(page.locator('[data-chart="cost"] polyline')).to_have_count(1)
    expect(page.locator('[data-chart="latency-of-successful-calls"] polyline')).to_have_count(3)
    expect(page.locator("#budget-indicator")).to_contain_text("/ $5")  # loaded into the top bar
    expect(page.locator("[data-percentiles-method]")).to_contain_text("Percentiles approximate (histogram")

    # A shorter date range: the URL keeps it and the totals follow.
    start = (timezone.now().astimezone(UTC).date() - timedelta(days=2)).isoformat()
    page.get_by_label("From").fill(start)
    page.wait_for_url(re.compile(rf"from={start}"))
    expect(page.locator("[data-percentiles-method]")).to_have_count(1)  # still includes rolled-up days
    want = expected([r for r in data.rows if r["created_at"].date().isoformat() >= start])
    expect(page.locator('[data-kpi="calls"]')).to_have_text(f"{want['calls']:,}")
    expect(page.locator('[data-chart="calls"] rect.bar')).not_to_have_count(0)

    # A provider filter on top of it.
    page.get_by_label("Provider").select_option("anthropic")
    page.wait_for_url(re.compile(r"provider=anthropic"))
    want = expected(
        [r for r in data.rows if r["created_at"].date().isoformat() >= start and r["provider"] == "anthropic"]
    )
    expect(page.locator('[data-kpi="calls"]')).to_have_text(f"{want['calls']:,}")
    expect(page.locator('[data-kpi="cost"]')).to_have_text(f"${want['cost']:,.2f}")
    bars = page.locator('[data-chart="calls"] rect.bar').count()
    assert bars > 0
    page.get_by_role("link", name="User", exact=True).click()
    page.wait_for_url(re.compile(r"by=user"))
    expect(page.locator("table[data-breakdown=user] tbody tr")).to_have_count(3)

    page.reload()  # the URL alone restores the view
    expect(page.get_by_label("Provider")).to_have_value("anthropic")
    expect(page.locator('[data-kpi="calls"]')).to_have_text(f"{want['calls']:,}")
    assert not page.console_errors, page.console_errors
    # Screenshots last: Playwright hides the text caret with an injected style, which the strict CSP
    # reports (a little later) as a console error.
    shot(page, "analytics-dashboard-filtered", full_page=True)
    page.goto("/analytics/")
    expect(page.locator('[data-chart="calls"] rect.bar')).not_to_have_count(0)
    shot(page, "analytics-dashboard", full_page=True)


def test_empty_dashboard_explains_itself(transactional_db: Any, team: Any, page: Any, login: Any, shot: Any) -> None:
    login(page, team.viewer, team.password)
    page.goto("/analytics/")
    expect(page.get_by_role("heading", name="No calls yet")).to_be_visible()
    assert not page.console_errors, page.console_errors
    shot(page, "analytics-empty")
