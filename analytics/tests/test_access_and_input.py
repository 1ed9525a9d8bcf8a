"""Every member reads analytics; outsiders get 404; bad parameters get a clear 400 (API) or a message
with defaults (page)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from analytics.filters import BAD_DATE, HOURLY_TOO_LONG, RANGE_REVERSED
from analytics.tests.helpers import known_runs

ENDPOINTS = ["api:analytics-summary", "api:analytics-timeseries", "api:analytics-breakdown"]


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("role", ["owner", "admin", "editor", "viewer"])
def test_every_member_reads(team: Any, api: Any, name: str, role: str) -> None:
    assert api(team.user(role)).get(reverse(name), {"workspace": team.workspace.pk}).status_code == 200


@pytest.mark.parametrize("name", ENDPOINTS)
def test_another_workspace_is_404_and_anonymous_401(team: Any, api: Any, name: str) -> None:
    assert api(team.outsider).get(reverse(name), {"workspace": team.workspace.pk}).status_code == 404
    assert api(None).get(reverse(name), {"workspace": team.workspace.pk}).status_code == 401


def test_outsiders_never_see_another_workspaces_runs(team: Any, api: Any) -> None:
    known_runs(team.workspace, [team.owner])
    body = api(team.outsider).get(reverse("api:analytics-summary"), {"workspace": team.other_workspace.pk}).json()
    assert body["totals"]["calls"] == 0


def test_prompt_usage_of_another_workspace_is_404(team: Any, client: Any) -> None:
    from analytics.tests.helpers import make_prompt

    prompt, _ = make_prompt(team.workspace, "Secret", 1)
    client.force_login(team.outsider)
    assert client.get(reverse("analytics:prompt-usage", args=[prompt.pk])).status_code == 404
    assert client.get(reverse("analytics:export"), {"table": "versions", "prompt": prompt.pk}).status_code == 404


@pytest.mark.parametrize(
    ("name", "params", "field", "message"),
    [
        ("api:analytics-summary", {}, "workspace", "Give the workspace id"),
        ("api:analytics-summary", {"from": "yesterday"}, "from", BAD_DATE),
        ("api:analytics-summary", {"from": "2026-02-01", "to": "2026-01-01"}, "from", RANGE_REVERSED),
        ("api:analytics-summary", {"provider": "acme"}, "provider", "Choose one of"),
        ("api:analytics-summary", {"user": "abc"}, "user", "whole number"),
        (
            "api:analytics-timeseries",
            {"interval": "hour", "from": "2026-01-01", "to": "2026-02-01"},
            "interval",
            HOURLY_TOO_LONG,
        ),
        ("api:analytics-timeseries", {"interval": "month"}, "interval", "Choose one of"),
        ("api:analytics-breakdown", {"by": "colour"}, "by", "Choose one of"),
    ],
)
def test_bad_parameters_get_a_clear_message(
    team: Any, api: Any, name: str, params: dict[str, str], field: str, message: str
) -> None:
    query = {"workspace": team.workspace.pk, **params} if field != "workspace" else params
    response = api(team.viewer).get(reverse(name), query)
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert message in body["detail"]


def test_page_shows_bad_filters_and_falls_back_to_defaults(team: Any, client: Any) -> None:
    known_runs(team.workspace, [team.owner])
    client.force_login(team.viewer)
    response = client.get(reverse("analytics:dashboard"), {"from": "not-a-date", "by": "colour", "provider": "openai"})
    assert response.status_code == 200
    html = response.content.decode()
    assert BAD_DATE in html and "Choose one of" in html
    assert 'value="openai" selected' in html  # what was valid is kept


def test_htmx_request_gets_the_fragment_and_direct_open_the_page(team: Any, client: Any) -> None:
    known_runs(team.workspace, [team.owner])
    client.force_login(team.viewer)
    fragment = client.get(reverse("analytics:dashboard"), {"by": "source"}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="analytics-results"')
    assert "<html" not in fragment
    page = client.get(reverse("analytics:dashboard"), {"by": "source"}).content.decode()
    assert "<html" in page and 'id="analytics-results"' in page


def test_csv_cells_cannot_start_a_spreadsheet_formula(team: Any, client: Any) -> None:
    from django.utils import timezone

    from analytics.tests.helpers import insert_runs, make_prompt

    prompt, versions = make_prompt(team.workspace, "=HYPERLINK(1)", 1)
    insert_runs(
        [
            {
                "workspace_id": team.workspace.pk,
                "provider": "openai",
                "model": "gpt-4o-mini",
                "prompt_id": prompt.pk,
                "prompt_version_id": versions[0].pk,
                "latency_ms": 5,
                "created_at": timezone.now(),
            }
        ]
    )
    client.force_login(team.viewer)
    body = client.get(reverse("analytics:export"), {"table": "breakdown", "by": "prompt"}).content.decode()
    assert "'=HYPERLINK(1)" in body


def test_empty_workspace_shows_the_empty_state(team: Any, client: Any) -> None:
    client.force_login(team.viewer)
    html = client.get(reverse("analytics:dashboard")).content.decode()
    assert "No calls yet" in html


def test_sidebar_links_to_the_dashboard(team: Any, client: Any) -> None:
    client.force_login(team.viewer)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("analytics:dashboard")}"' in html
