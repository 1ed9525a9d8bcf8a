"""Demo data: a few weeks of synthetic runs so the analytics charts have something to draw.

Idempotent: runs are added only when the demo workspace has fewer than ``DEMO_RUNS`` finished runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from analytics.filters import today
from analytics.seeding import runs_seed
from analytics.services import rollups_refresh
from providers.models import Run, RunStatus

DEMO_RUNS = 1500
DEMO_DAYS = 28


def seed(*, workspace: Any, user: Any) -> None:
    have = Run.objects.filter(workspace=workspace).exclude(status=RunStatus.RUNNING).count()
    if have >= DEMO_RUNS:
        return
    runs_seed(workspace=workspace, count=DEMO_RUNS - have, days=DEMO_DAYS, seed=42, model_limit=8)
    rollups_refresh(start=today() - timedelta(days=DEMO_DAYS))
