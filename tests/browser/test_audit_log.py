"""The audit log page in Chromium at 1280 px: every column, the last (From) included, fits in the table's
frame, with long emails, detail values, IPv6 addresses and user agents in the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from audit.services import record

pytestmark = pytest.mark.browser

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def test_audit_table_fits_its_frame_at_1280_px(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    factory = RequestFactory()
    ipv4 = factory.get("/", REMOTE_ADDR="203.0.113.254", HTTP_USER_AGENT=USER_AGENT)
    ipv6 = factory.get("/", REMOTE_ADDR="2001:db8:85a3::8a2e:370:7334", HTTP_USER_AGENT=USER_AGENT)
    record(action="auth.login", actor=team.admin, workspace=team.workspace, details={"method": "session"}, request=ipv4)
    record(
        action="workspace.renamed",
        actor=team.owner,
        workspace=team.workspace,
        target=team.workspace,
        details={"from": "Acme research and development", "to": "Acme"},
        request=ipv4,
    )
    record(
        action="member.role_changed",
        actor=team.owner,
        workspace=team.workspace,
        details={"email": "alexandra.konstantinopoulou@enterprise-example.com", "from": "viewer", "to": "editor"},
        request=ipv6,
    )
    record(
        action="import.promptfoo",
        actor=team.admin,
        workspace=team.workspace,
        details={"file": "customer-support-evaluation-suite-v2.yaml", "prompts": 3, "tests": 40},
        request=ipv6,
    )
    login(page, team.admin, team.password)
    page.goto(reverse("audit:log"))
    expect(page.locator(".audit-table tbody tr")).to_have_count(5)  # the four above and this log-in
    shot(page, "audit-log-1280", full_page=True)

    frame = page.evaluate(
        """() => {
          const wrap = document.querySelector('.audit-results .table-wrap');
          const box = wrap.getBoundingClientRect();
          const from = wrap.querySelector('thead th:last-child');
          const clipped = [...wrap.querySelectorAll('tbody td:last-child, thead th:last-child')]
            .filter(cell => cell.scrollWidth > cell.clientWidth).length;
          return {
            overflow: wrap.scrollWidth - wrap.clientWidth,
            fromHeader: from.textContent.trim(),
            fromRight: from.getBoundingClientRect().right,
            frameRight: box.right - wrap.clientLeft,
            clipped,
          };
        }"""
    )
    assert frame["fromHeader"] == "From"
    assert frame["overflow"] == 0, f"the table is {frame['overflow']} px wider than its frame"
    assert frame["fromRight"] <= frame["frameRight"] + 0.5, frame
    assert frame["clipped"] == 0, f"{frame['clipped']} From cells overflow"
    expect(page.locator(".audit-table")).to_contain_text("2001:db8:85a3::8a2e:370:7334")
    assert not page.console_errors, page.console_errors
