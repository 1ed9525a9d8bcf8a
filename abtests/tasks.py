"""Celery tasks of the A/B test engine (see abtests.engine)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from abtests import engine


@shared_task(name="abtests.run_chunk", acks_late=True, ignore_result=True)
def run_chunk(test_id: int, trial_ids: list[int], concurrency: int | None = None) -> dict[str, int]:
    """Run a chunk of cells with its share of the test's concurrency; idempotent (finished or claimed
    cells are skipped)."""
    return engine.run_chunk(test_id, trial_ids, concurrency)


@shared_task(name="abtests.sweep", ignore_result=True)
def sweep() -> dict[str, Any]:
    """Re-enqueue stale work, release expired leases, finalise finished tests (Celery beat)."""
    return engine.sweep()
