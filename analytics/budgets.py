"""The budget hard stop, for every code path that spends money (playground, API, A/B cells).

Call ``enforce_budget(workspace)`` before a provider call: it records any budget alert the month's
spend has crossed and raises ``BudgetExceeded`` when the workspace has a hard-stop budget that is spent.
``BudgetExceeded`` is a Django ``ValidationError`` (the API answers 400 with its message).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

BUDGET_EXCEEDED = (
    "This workspace has spent ${spent} of its ${limit} monthly budget, so new calls are stopped until "
    "{reset}. An admin can raise the budget or turn off the hard stop on the Analytics page."
)


class BudgetExceeded(ValidationError):
    """The workspace's hard-stop budget for this month is spent; nothing was sent."""

    code = "budget_exceeded"

    def __init__(self, message: str) -> None:
        self.text = message
        super().__init__({"budget": [message]})

    def __str__(self) -> str:
        return self.text


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def enforce_budget(workspace: Any) -> None:
    """Raise ``BudgetExceeded`` if ``workspace`` (a Workspace or its id) has a spent hard-stop budget."""
    from analytics.models import Budget
    from analytics.selectors import month_spend
    from analytics.services import budget_alerts_check

    workspace_id = getattr(workspace, "pk", workspace)
    budget = Budget.objects.filter(workspace_id=workspace_id).first()
    if budget is None:
        return
    now = timezone.now()
    spent = month_spend(workspace_id=workspace_id, now=now)
    if spent * 100 >= budget.monthly_limit * 50:
        budget_alerts_check(workspace=workspace_id, now=now)
    if budget.hard_stop and spent >= budget.monthly_limit:
        raise BudgetExceeded(
            BUDGET_EXCEEDED.format(
                spent=f"{spent:,.2f}",
                limit=f"{budget.monthly_limit:,.2f}",
                reset=f"{_next_month(now.date()):%B} 1",
            )
        )
