"""The audit log page: admins and owners of the current workspace, filters in the URL, pages, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditEvent
from audit.selectors import BAD_DATE, DATE_ORDER
from audit.services import record
from audit.views import PAGE_SIZE, csv_cell

pytestmark = pytest.mark.django_db

URL = "/settings/audit/"


def backdate(event: AuditEvent, days: int) -> None:
    # Test-only: move an event into the past with raw SQL (the model refuses updates on purpose).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET created_at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=days), event.pk],
        )


def test_url_name_and_settings_link() -> None:
    assert reverse("audit:log") == URL


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("editor", 403), ("viewer", 403)])
def test_only_admins_and_owners_read_the_log(client: Any, team: Any, role: str, status: int) -> None:
    record(action="member.invited", actor=team.owner, workspace=team.workspace, details={"email": "x@acme.test"})
    client.force_login(team.user(role))
    response = client.get(URL)
    assert response.status_code == status
    if status == 200:
        assert b"member.invited" in response.content
    assert client.get(URL, {"format": "csv"}).status_code == status


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_another_workspaces_events_never_show(client: Any, team: Any) -> None:
    record(
        action="member.invited",
        actor=team.outsider,
        workspace=team.other_workspace,
        details={"email": "secret@other.test"},
    )
    record(action="auth.login", actor=team.outsider, workspace=None)
    record(action="auth.login", actor=team.viewer, workspace=None)
    client.force_login(team.owner)
    html = client.get(URL).content.decode()
    assert "secret@other.test" not in html and team.outsider.email not in html
    assert team.viewer.email in html  # a member's log-in is shown
    csv_text = b"".join(client.get(URL, {"format": "csv"}).streaming_content).decode()
    assert "secret@other.test" not in csv_text and team.outsider.email not in csv_text


def test_filters_by_action_category_actor_and_dates_and_keeps_them_in_links(client: Any, team: Any) -> None:
    old = record(
        action="member.invited", actor=team.owner, workspace=team.workspace, details={"email": "old@acme.test"}
    )
    backdate(old, 10)
    record(action="member.removed", actor=team.admin, workspace=team.workspace, details={"email": "rm@acme.test"})
    record(action="prompt.deleted", actor=team.admin, workspace=team.workspace, details={"slug": "gone-prompt"})
    client.force_login(team.owner)

    def shown(**params: str) -> set[str]:
        html = client.get(URL, params).content.decode()
        return {text for text in ("old@acme.test", "rm@acme.test", "gone-prompt") if text in html}

    assert shown() == {"old@acme.test", "rm@acme.test", "gone-prompt"}
    assert shown(action="member") == {"old@acme.test", "rm@acme.test"}
    assert shown(action="member.removed") == {"rm@acme.test"}
    assert shown(actor=str(team.admin.pk)) == {"rm@acme.test", "gone-prompt"}
    today = timezone.now().date()
    assert shown(**{"from": str(today - timedelta(days=1))}) == {"rm@acme.test", "gone-prompt"}
    assert shown(to=str(today - timedelta(days=5))) == {"old@acme.test"}
    csv_link = client.get(URL, {"action": "member"}).content.decode()
    assert "?action=member&amp;format=csv" in csv_link


def test_bad_filters_are_named_and_ignored(client: Any, team: Any) -> None:
    record(action="member.invited", actor=team.owner, workspace=team.workspace)
    client.force_login(team.owner)
    response = client.get(URL, {"from": "yesterday", "actor": "abc"})
    assert response.status_code == 200
    html = response.content.decode()
    assert BAD_DATE.format(field="from") in html and "member.invited" in html
    response = client.get(URL, {"from": "2026-02-01", "to": "2026-01-01"})
    assert DATE_ORDER in response.content.decode()


def test_htmx_filter_gets_the_results_partial(client: Any, team: Any) -> None:
    record(action="member.invited", actor=team.owner, workspace=team.workspace)
    client.force_login(team.owner)
    response = client.get(URL, {"action": "member"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-results")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="audit-results"')
    assert "<html" not in html
    assert "<html" in client.get(URL, {"action": "member"}).content.decode()


def test_pagination_and_pinned_query_count(client: Any, team: Any, django_assert_num_queries: Any) -> None:
    for n in range(PAGE_SIZE + 5):
        record(action="member.invited", actor=team.owner, workspace=team.workspace, details={"n": n})
    client.force_login(team.owner)
    client.get(URL)  # warm the session
    with django_assert_num_queries(8):
        first = client.get(URL)
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(URL, {"page": 2}).content.decode()
    # 55 events plus the owner's own log-in (force_login sends user_logged_in)
    assert second.count("<td><time datetime=") == 6
    for n in range(200):
        record(action="member.invited", actor=team.owner, workspace=team.workspace, details={"n": n})
    with django_assert_num_queries(8):
        client.get(URL)


def test_csv_export_has_every_filtered_event_and_defuses_formulas(client: Any, team: Any) -> None:
    attacker = UserFactory(email="attacker@acme.test")
    record(
        action="member.invited",
        actor=team.owner,
        workspace=team.workspace,
        target=attacker,
        details={"email": '=HYPERLINK("x")'},
    )
    record(action="prompt.deleted", actor=team.owner, workspace=team.workspace)
    client.force_login(team.admin)
    response = client.get(URL, {"format": "csv", "action": "member"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time", "action", "actor_id"]
    assert [r[1] for r in rows[1:]] == ["member.invited"]
    assert rows[1][9].startswith("email=")
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("+1") == "'+1" and csv_cell("ok") == "ok"


def test_settings_console_links_to_the_audit_log(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    assert URL in client.get(reverse("accounts:settings")).content.decode()
    client.force_login(team.editor)
    assert URL not in client.get(reverse("accounts:settings")).content.decode()
