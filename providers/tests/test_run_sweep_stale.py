"""The stale-run sweep: Runs a dead process left "running" become "interrupted" errors, others are untouched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from providers import services
from providers.models import Run, RunSource, RunStatus
from providers.tasks import sweep_stale_runs

pytestmark = pytest.mark.django_db


def _run(team: Any, *, status: str, age_seconds: float, output: str = "") -> Run:
    run = Run.objects.create(
        workspace=team.workspace,
        user=team.editor,
        provider="openai",
        model="gpt-4o-mini",
        status=status,
        output=output,
        source=RunSource.PLAYGROUND,
    )
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=age_seconds))
    return run


def test_a_run_left_running_past_the_limit_becomes_an_interrupted_error_and_keeps_its_output(team: Any) -> None:
    stuck = _run(team, status=RunStatus.RUNNING, age_seconds=3600, output="half an ans")

    assert services.run_sweep_stale(older_than=600) == 1

    stuck.refresh_from_db()
    assert stuck.status == RunStatus.ERROR
    assert stuck.error_kind == services.INTERRUPTED_KIND == "interrupted"
    assert stuck.error_message == services.INTERRUPTED
    assert stuck.finished_at is not None
    assert stuck.output == "half an ans"


def test_recent_running_runs_and_finished_runs_are_left_alone(team: Any) -> None:
    fresh = _run(team, status=RunStatus.RUNNING, age_seconds=30)
    done = _run(team, status=RunStatus.OK, age_seconds=3600, output="complete")
    failed = _run(team, status=RunStatus.ERROR, age_seconds=3600)

    assert services.run_sweep_stale(older_than=600) == 0

    assert Run.objects.get(pk=fresh.pk).status == RunStatus.RUNNING
    assert Run.objects.get(pk=done.pk).status == RunStatus.OK
    assert Run.objects.get(pk=failed.pk).error_kind == ""


def test_default_limit_is_longer_than_every_attempt_at_the_provider_timeout(team: Any, settings: Any) -> None:
    settings.RUN_STALE_SECONDS = 0
    settings.PROVIDER_TIMEOUT_SECONDS = 120
    settings.PROVIDER_MAX_RETRIES = 2
    assert services.run_stale_seconds() == 120 * 3 + 300
    # A stream that is still inside every attempt's timeout is not touched; one past the limit is.
    alive = _run(team, status=RunStatus.RUNNING, age_seconds=120 * 3)
    dead = _run(team, status=RunStatus.RUNNING, age_seconds=120 * 3 + 301)
    assert services.run_sweep_stale() == 1
    assert Run.objects.get(pk=alive.pk).status == RunStatus.RUNNING
    assert Run.objects.get(pk=dead.pk).status == RunStatus.ERROR


def test_the_setting_overrides_the_limit_and_the_beat_runs_the_task(team: Any, settings: Any) -> None:
    settings.RUN_STALE_SECONDS = 60
    stuck = _run(team, status=RunStatus.RUNNING, age_seconds=90)
    assert sweep_stale_runs.apply().get() == 1
    assert Run.objects.get(pk=stuck.pk).status == RunStatus.ERROR
    schedule = django_settings.CELERY_BEAT_SCHEDULE["providers-sweep-stale-runs"]
    assert schedule["task"] == sweep_stale_runs.name
