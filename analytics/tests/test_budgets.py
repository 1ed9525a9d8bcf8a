"""Budgets: alerts at 50/80/100 % once per month (emailed to owners and admins), the hard stop refuses
calls through the real run API, and only admins change the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from analytics import services, tasks
from analytics.budgets import BudgetExceeded, enforce_budget
from analytics.models import Budget, BudgetAlert
from analytics.tests.helpers import insert_runs
from providers.models import Run

DRAFT = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]}


def spend(workspace: Any, amount: str, *, when: datetime | None = None, status: str = "ok") -> None:
    insert_runs(
        [
            {
                "workspace_id": workspace.pk,
                "provider": "openai",
                "model": "gpt-4o-mini",
                "status": status,
                "cost": Decimal(amount),
                "latency_ms": 100,
                "created_at": when or timezone.now() - timedelta(seconds=5),
            }
        ]
    )


def run_call(api: Any, user: Any, workspace: Any) -> Any:
    return api(user).post(
        reverse("api:testing-run"),
        {"workspace": workspace.pk, "content": DRAFT, "targets": [{"provider": "echo", "model": "echo"}]},
        format="json",
    )


def test_alerts_fire_once_per_threshold_and_mail_owners_and_admins(team: Any) -> None:
    services.budget_set(workspace=team.workspace, user=team.admin, monthly_limit="100", hard_stop=False)
    assert mail.outbox == []
    spend(team.workspace, "40")
    assert services.budget_alerts_check(workspace=team.workspace) == []
    assert mail.outbox == []

    spend(team.workspace, "15")  # 55 %
    made = services.budget_alerts_check(workspace=team.workspace)
    assert [a.threshold for a in made] == [50]
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([team.owner.email, team.admin.email])
    assert "50%" in mail.outbox[0].subject
    assert "$55.00 of its $100.00" in mail.outbox[0].body

    # Checking again (task, next call) sends nothing new.
    assert services.budget_alerts_check(workspace=team.workspace) == []
    assert tasks.check_budgets() == 0
    assert len(mail.outbox) == 1

    spend(team.workspace, "30")  # 85 %
    assert tasks.check_budgets() == 1
    assert len(mail.outbox) == 2 and "80%" in mail.outbox[1].subject

    spend(team.workspace, "20")  # 105 %
    enforce_budget(team.workspace)  # no hard stop: allowed, but the alert is recorded
    assert len(mail.outbox) == 3 and "100%" in mail.outbox[2].subject
    enforce_budget(team.workspace)
    assert tasks.check_budgets() == 0
    assert len(mail.outbox) == 3
    month = timezone.now().astimezone(UTC).date().replace(day=1)
    assert list(
        BudgetAlert.objects.filter(workspace=team.workspace, month=month)
        .values_list("threshold", flat=True)
        .order_by("threshold")
    ) == [50, 80, 100]


def test_a_jump_past_several_thresholds_records_each_and_sends_one_mail(team: Any) -> None:
    spend(team.workspace, "90")
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="100", hard_stop=False)
    assert BudgetAlert.objects.filter(workspace=team.workspace).count() == 2
    assert len(mail.outbox) == 1 and "80%" in mail.outbox[0].subject


def test_last_months_spend_does_not_count(team: Any) -> None:
    first = timezone.now().astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spend(team.workspace, "500", when=first - timedelta(hours=1))
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="100", hard_stop=True)
    enforce_budget(team.workspace)
    assert mail.outbox == []


def test_hard_stop_refuses_an_api_call_once_the_budget_is_spent(team: Any, api: Any) -> None:
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="10", hard_stop=True)
    spend(team.workspace, "9.99")
    response = run_call(api, team.editor, team.workspace)
    assert response.status_code == 201, response.content

    spend(team.workspace, "0.01")  # exactly the budget
    runs_before = Run.objects.filter(workspace=team.workspace).count()
    response = run_call(api, team.editor, team.workspace)
    assert response.status_code == 400
    body = response.json()
    assert "monthly budget" in body["detail"] and "$10.00 of its $10.00" in body["detail"]
    assert Run.objects.filter(workspace=team.workspace).count() == runs_before  # nothing recorded or sent

    # Other workspaces are not affected; raising the budget lets calls through again.
    assert run_call(api, team.outsider, team.other_workspace).status_code == 201
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="20", hard_stop=True)
    assert run_call(api, team.editor, team.workspace).status_code == 201


def test_without_hard_stop_calls_continue_past_the_budget(team: Any, api: Any) -> None:
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="1", hard_stop=False)
    spend(team.workspace, "5")
    assert run_call(api, team.editor, team.workspace).status_code == 201


def test_enforce_budget_raises_a_validation_error_with_a_clear_message(team: Any) -> None:
    Budget.objects.create(workspace=team.workspace, monthly_limit=Decimal("2"), hard_stop=True)
    spend(team.workspace, "3")
    with pytest.raises(BudgetExceeded) as caught:
        enforce_budget(team.workspace.pk)
    assert "spent $3.00 of its $2.00 monthly budget" in str(caught.value)
    assert caught.value.message_dict == {"budget": [str(caught.value)]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", services.BUDGET_REQUIRED),
        ("abc", services.BUDGET_REQUIRED),
        ("0", services.BUDGET_POSITIVE),
        ("-5", services.BUDGET_POSITIVE),
        ("1e12", services.BUDGET_TOO_LARGE),
    ],
)
def test_bad_budget_values_are_refused_clearly(team: Any, value: str, message: str) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit=value, hard_stop=False)
    assert caught.value.message_dict == {"monthly_limit": [message]}


def test_admin_sets_the_budget_on_the_budget_page(team: Any, client: Any) -> None:
    client.force_login(team.admin)
    response = client.post(reverse("analytics:budget"), {"monthly_limit": "$1,250.50", "hard_stop": "on"})
    assert response.status_code == 302
    budget = Budget.objects.get(workspace=team.workspace)
    assert budget.monthly_limit == Decimal("1250.50") and budget.hard_stop
    page = client.get(reverse("analytics:budget"))
    assert "$1,250.50" in page.content.decode()


def test_bad_budget_on_the_page_keeps_the_input_and_shows_the_error(team: Any, client: Any) -> None:
    client.force_login(team.owner)
    response = client.post(reverse("analytics:budget"), {"monthly_limit": "0", "hard_stop": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    assert services.BUDGET_POSITIVE in html
    assert 'value="0"' in html
    assert not Budget.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_members_below_admin_cannot_change_the_budget(team: Any, client: Any, role: str) -> None:
    client.force_login(team.user(role))
    assert client.get(reverse("analytics:budget")).status_code == 200
    assert client.post(reverse("analytics:budget"), {"monthly_limit": "10"}).status_code == 403
    assert client.post(reverse("analytics:budget-remove")).status_code == 403
    assert not Budget.objects.exists()


def test_admin_removes_the_budget(team: Any, client: Any) -> None:
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="10", hard_stop=True)
    client.force_login(team.admin)
    assert client.post(reverse("analytics:budget-remove")).status_code == 302
    assert not Budget.objects.exists()


def test_header_indicator_shows_month_to_date_spend_and_alert(team: Any, client: Any) -> None:
    services.budget_set(workspace=team.workspace, user=team.owner, monthly_limit="100", hard_stop=False)
    spend(team.workspace, "82.5")
    services.budget_alerts_check(workspace=team.workspace)
    client.force_login(team.viewer)
    page = client.get(reverse("analytics:dashboard"))
    assert reverse("analytics:budget-indicator") in page.content.decode()  # the top bar loads it
    response = client.get(reverse("analytics:budget-indicator"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "$82.50" in html and "/ $100" in html
    assert "budget-high" in html and ">80%<" in html
    # Opened directly, it is the budget page.
    assert client.get(reverse("analytics:budget-indicator")).status_code == 302
