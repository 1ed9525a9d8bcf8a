"""GET /api/audit/?workspace=<id>: admins and owners only, 404 for other workspaces, filters, pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from audit.api import WORKSPACE_REQUIRED
from audit.services import record

pytestmark = pytest.mark.django_db


def url() -> str:
    return reverse("api:audit-list")


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("editor", 403), ("viewer", 403), ("outsider", 404)],
)
def test_roles(team: Any, api: Any, role: str, status: int) -> None:
    record(action="member.invited", actor=team.owner, workspace=team.workspace)
    response = api(team.user(role)).get(url(), {"workspace": team.workspace.pk})
    assert response.status_code == status
    if status == 200:
        assert [e["action"] for e in response.json()["results"]] == ["member.invited"]


def test_anonymous_is_401(team: Any, api: Any) -> None:
    assert api(None).get(url(), {"workspace": team.workspace.pk}).status_code == 401


def test_workspace_is_required_and_filters_are_checked(team: Any, api: Any) -> None:
    client = api(team.owner)
    missing = client.get(url())
    assert missing.status_code == 400 and missing.json()["detail"] == f"workspace: {WORKSPACE_REQUIRED}"
    assert client.get(url(), {"workspace": "abc"}).status_code == 404
    bad = client.get(url(), {"workspace": team.workspace.pk, "from": "soon"})
    assert bad.status_code == 400 and "from" in bad.json()["errors"]


def test_filters_and_output(team: Any, api: Any) -> None:
    record(
        action="member.invited",
        actor=team.owner,
        workspace=team.workspace,
        target=team.viewer,
        details={"role": "viewer"},
    )
    record(action="prompt.deleted", actor=team.admin, workspace=team.workspace)
    client = api(team.admin)
    body = client.get(url(), {"workspace": team.workspace.pk, "action": "member"}).json()
    assert body["count"] == 1
    event = body["results"][0]
    assert event["actor_email"] == team.owner.email and event["target_id"] == str(team.viewer.pk)
    assert event["details"] == {"role": "viewer"} and event["workspace_id"] == team.workspace.pk
    by_actor = client.get(url(), {"workspace": team.workspace.pk, "actor": team.admin.pk}).json()
    assert [e["action"] for e in by_actor["results"]] == ["prompt.deleted"]


def test_query_count_is_the_same_for_5_and_50_events(team: Any, api: Any, django_assert_num_queries: Any) -> None:
    client = api(team.owner)
    for _ in range(5):
        record(action="member.invited", actor=team.owner, workspace=team.workspace)
    with django_assert_num_queries(5):
        client.get(url(), {"workspace": team.workspace.pk})
    for _ in range(45):
        record(action="member.invited", actor=team.owner, workspace=team.workspace)
    with django_assert_num_queries(5):
        assert client.get(url(), {"workspace": team.workspace.pk}).json()["count"] == 50
