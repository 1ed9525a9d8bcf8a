"""The run engine without a worker: chunks called directly (idempotence, claiming, stops, retries)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from abtests import engine
from abtests.models import TestStatus as Status
from abtests.models import Trial, TrialStatus
from abtests.services import abtest_cancel, abtest_start
from abtests.tests.factories import make_test
from providers.models import Run
from providers.tests.conftest import add_credential

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalog")]


def start(test: Any, capture: Any) -> Any:
    with capture(execute=False):  # no Celery here: the chunks are run by hand
        return abtest_start(test=test)


def trial_ids(test: Any) -> list[int]:
    return list(Trial.objects.filter(test=test).values_list("id", flat=True))


def test_chunk_runs_every_cell_and_completes_the_test(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(
        team.workspace, rows=4, variants=2, repetitions=2, evaluators=[{"type": "contains", "value": "{{ question }}"}]
    )
    start(test, django_capture_on_commit_callbacks)
    stats = engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert stats["ok"] == 16
    assert test.status == Status.COMPLETED
    assert test.finished_cells == 16 and test.failed_cells == 0
    assert Trial.objects.filter(test=test, status=TrialStatus.OK, passed=True).count() == 16
    assert Run.objects.filter(source="abtest", workspace=team.workspace).count() == 16
    trial = Trial.objects.filter(test=test).select_related("variant").first()
    assert trial is not None and trial.run_id is not None
    assert f"cell {trial.variant.name}-r{trial.row_index}" in trial.output


def test_rerunning_a_chunk_makes_no_new_calls(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=3, variants=2)
    start(test, django_capture_on_commit_callbacks)
    ids = trial_ids(test)
    engine.run_chunk(test.pk, ids)
    runs = Run.objects.count()
    outputs = dict(Trial.objects.filter(test=test).values_list("id", "output"))
    again = engine.run_chunk(test.pk, ids)
    assert again["ok"] == 0
    assert Run.objects.count() == runs
    assert dict(Trial.objects.filter(test=test).values_list("id", "output")) == outputs


def test_a_claimed_cell_is_not_claimed_twice(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=1, variants=2)
    start(test, django_capture_on_commit_callbacks)
    plan = engine.load_plan(test.pk)
    assert plan is not None
    trial = Trial.objects.filter(test=test).first()
    assert trial is not None
    first = engine.cell_prepare(plan, trial.pk, trial.variant_id, trial.row_index)
    second = engine.cell_prepare(plan, trial.pk, trial.variant_id, trial.row_index)
    assert isinstance(first, engine.Cell)
    assert second == engine.SKIP
    trial.refresh_from_db()
    assert trial.status == TrialStatus.RUNNING and trial.attempts == 1 and trial.lease_expires_at is not None


def test_sweep_puts_expired_leases_back_and_reenqueues_them(
    team: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from studio.celery import app

    test = make_test(team.workspace, rows=2, variants=2)
    start(test, django_capture_on_commit_callbacks)
    plan = engine.load_plan(test.pk)
    assert plan is not None
    trial = Trial.objects.filter(test=test).first()
    assert trial is not None
    settings.ABTEST_LEASE_SECONDS = 1
    cell = engine.cell_prepare(plan, trial.pk, trial.variant_id, trial.row_index)  # then the worker "dies"
    assert isinstance(cell, engine.Cell)
    assert engine.sweep()["reclaimed"] == 0  # the lease has not expired yet
    app.conf.task_always_eager = True  # the re-enqueued chunk runs here
    try:
        stats = engine.sweep(now=timezone.now() + timedelta(seconds=2))
    finally:
        app.conf.task_always_eager = False
    assert stats["reclaimed"] == 1 and stats["enqueued"] == 1
    test.refresh_from_db()
    trial.refresh_from_db()
    assert test.status == Status.COMPLETED and test.finished_cells == 4
    assert trial.status == TrialStatus.OK and trial.attempts == 2
    assert test.cost_reserved == 0


def test_cancel_before_any_cell_skips_everything(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=2, variants=2)
    start(test, django_capture_on_commit_callbacks)
    abtest_cancel(test=test)
    stats = engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert test.status == Status.CANCELLED
    assert stats["ok"] == 0
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).count() == 4


def test_cost_cap_stops_before_it_is_crossed(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    credential = add_credential(team.workspace, "openai")
    test = make_test(
        team.workspace,
        rows=20,
        variants=2,
        provider="openai",
        model="gpt-4o-mini",
        credential=credential,
        params={"max_tokens": 40},
        cost_cap=Decimal("0.00020"),
    )
    start(test, django_capture_on_commit_callbacks)
    engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    spent = sum(Trial.objects.filter(test=test).values_list("cost", flat=True))
    assert test.status == Status.STOPPED_COST_CAP
    assert 0 < spent <= Decimal("0.00020")
    assert test.cost_spent <= test.cost_cap
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).exists()
    assert "cost cap" in test.reason


def test_rate_limits_slow_the_chunk_and_every_cell_still_succeeds(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    credential = add_credential(team.workspace, "openai")
    test = make_test(team.workspace, rows=5, variants=2, provider="openai", model="gpt-4o-mini", credential=credential)
    start(test, django_capture_on_commit_callbacks)
    providers_on_fake.fail_next(429, times=6, retry_after_ms="50")
    engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert test.status == Status.COMPLETED
    assert Trial.objects.filter(test=test, status=TrialStatus.OK).count() == 10
    assert test.rate_limited == 6
    assert providers_on_fake.request_count == 16
    assert Run.objects.filter(source="abtest", error_kind="rate_limit").count() == 6


def test_a_bad_key_records_an_error_without_retrying(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    credential = add_credential(team.workspace, "openai")
    providers_on_fake.api_key = "another-key"
    test = make_test(team.workspace, rows=1, variants=2, provider="openai", model="gpt-4o-mini", credential=credential)
    start(test, django_capture_on_commit_callbacks)
    engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert test.status == Status.COMPLETED
    assert test.failed_cells == 2
    assert providers_on_fake.request_count == 2
    assert all(t.error and t.passed is False for t in Trial.objects.filter(test=test))
