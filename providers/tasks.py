"""Celery tasks of the providers app."""

from __future__ import annotations

from celery import shared_task

from providers import services


@shared_task(name="providers.sweep_stale_runs", ignore_result=True)
def sweep_stale_runs() -> int:
    """Mark Runs that a dead process left ``running`` as interrupted errors (Celery beat)."""
    return services.run_sweep_stale()
