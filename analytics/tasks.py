"""Celery tasks: keep the daily rollups complete and check budgets. Both are idempotent."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from analytics import services


@shared_task(name="analytics.refresh_rollups")
def refresh_rollups() -> dict[str, Any]:
    """Recompute the last days' rollups through yesterday (safe to run any number of times)."""
    result = services.rollups_refresh()
    return {
        "start": result.start.isoformat() if result.start else None,
        "end": result.end.isoformat() if result.end else None,
        "rows": result.rows,
    }


@shared_task(name="analytics.check_budgets")
def check_budgets() -> int:
    """Record and email budget alerts for every workspace with a budget (each threshold once a month)."""
    return services.budget_alerts_check_all()
