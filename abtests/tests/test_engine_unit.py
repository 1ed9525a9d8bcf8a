"""The run engine without a worker: chunks called directly (idempotence, claiming, stops, retries)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from abtests import engine
from abtests.models import TestStatus as Status
from abtests.models import Trial, TrialStatus
from abtests.services import abtest_cancel, abtest_start
from abtests.tests.factories import claim_first, make_test
from providers.models import Run
from providers.tests.conftest import add_credential

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalog")]


def start(test: Any, capture: Any) -> Any:
    with capture(execute=False):  # no Celery here: the chunks are run by hand
        return abtest_start(test=test)


def openai_test(team: Any, **kw: Any) -> Any:
    """A test whose variants call gpt-4o-mini on the fake server with the workspace's openai key."""
    credential = add_credential(team.workspace, "openai")
    return make_test(team.workspace, provider="openai", model="gpt-4o-mini", credential=credential, **kw)


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
    plan, trial, first = claim_first(test)
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
    settings.ABTEST_LEASE_SECONDS = 1
    _, trial, cell = claim_first(test)  # then the worker "dies"
    assert isinstance(cell, engine.Cell)
    assert engine.sweep()["reclaimed"] == 0  # the lease has not expired yet
    app.conf.task_always_eager = True  # the re-enqueued chunk runs here
    try:
        stats = engine.sweep(now=timezone.now() + timedelta(seconds=2))
    finally:
        app.conf.task_always_eager = False
    # the four pending cells go out again as chunks: two chunks of two, run one after the other here
    assert stats["reclaimed"] == 1 and stats["enqueued"] == len(engine.chunk_plan(4, test.concurrency)) == 2
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
    test = openai_test(team, rows=20, variants=2, params={"max_tokens": 40}, cost_cap=Decimal("0.00020"))
    start(test, django_capture_on_commit_callbacks)
    stats = engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    spent = sum(Trial.objects.filter(test=test).values_list("cost", flat=True))
    assert test.status == Status.STOPPED_COST_CAP
    assert stats["returned"] == 0  # the cells claimed within the cap were called, not given back
    assert 0 < spent <= Decimal("0.00020")
    assert test.cost_spent <= test.cost_cap
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).exists()
    assert "cost cap" in test.reason


def test_rate_limits_slow_the_chunk_and_every_cell_still_succeeds(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    test = openai_test(team, rows=5, variants=2)
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
    providers_on_fake.api_key = "another-key"  # the stored key is refused
    test = openai_test(team, rows=1, variants=2)
    start(test, django_capture_on_commit_callbacks)
    engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert test.status == Status.COMPLETED
    assert test.failed_cells == 2
    assert providers_on_fake.request_count == 2
    assert all(t.error and t.passed is False for t in Trial.objects.filter(test=test))


@pytest.mark.parametrize(
    ("cells", "concurrency", "parallel", "size"),
    [(1000, 50, 2, 200), (60, 2, 2, 10), (7, 50, 2, 200), (50, 1, 2, 200), (1, 5, 4, 200), (999, 7, 3, 100)],
)
def test_chunk_plan_splits_cells_into_waves_that_share_the_concurrency(
    settings: Any, cells: int, concurrency: int, parallel: int, size: int
) -> None:
    settings.ABTEST_PARALLEL_CHUNKS = parallel
    settings.ABTEST_CHUNK_SIZE = size
    plan = engine.chunk_plan(cells, concurrency)
    assert sum(n for n, _ in plan) == cells  # every cell in exactly one chunk
    assert all(0 < n <= size for n, _ in plan)
    assert max(n for n, _ in plan) - min(n for n, _ in plan) <= 1  # balanced
    lanes = min(parallel, cells, concurrency)
    assert len(plan) % lanes == 0 or len(plan) == cells
    for wave in range(0, len(plan), lanes):  # the chunks that run together stay within the concurrency
        shares = [share for _, share in plan[wave : wave + lanes]]
        assert all(share >= 1 for share in shares)
        assert sum(shares) == min(concurrency, sum(shares)) and sum(shares) <= max(concurrency, 1)


def test_a_batch_of_claims_reserves_in_order_and_stops_at_the_cost_cap(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    test = openai_test(team, rows=3, variants=2, params={"max_tokens": 40})
    start(test, django_capture_on_commit_callbacks)
    plan = engine.load_plan(test.pk)
    assert plan is not None
    specs = list(
        Trial.objects.filter(test=test).order_by("row_index", "variant_id").values_list("id", "variant_id", "row_index")
    )
    reserved = [engine._ready(plan, *spec).reserved for spec in specs]  # type: ignore[union-attr]
    # room for the reservations of cells 1-3, not of cell 4 (cell 0 is finished elsewhere meanwhile)
    test.cost_cap = sum(reserved[1:4]) + reserved[4] / 2
    test.save(update_fields=["cost_cap"])
    plan.test.cost_cap = test.cost_cap
    Trial.objects.filter(pk=specs[0][0]).update(status=TrialStatus.SKIPPED)  # finished elsewhere meanwhile
    results = engine.cells_claim(plan, specs)
    assert results[0] == engine.SKIP
    assert all(isinstance(r, engine.Cell) for r in results[1:4])
    assert results[4:] == [engine.CAPPED, engine.CAPPED]
    test.refresh_from_db()
    assert test.status == Status.STOPPED_COST_CAP and "cost cap" in test.reason
    assert test.cost_reserved == sum(r.reserved for r in results[1:4])  # type: ignore[union-attr]
    claimed = Trial.objects.filter(test=test, status=TrialStatus.RUNNING)
    assert sorted(claimed.values_list("id", flat=True)) == [spec[0] for spec in specs[1:4]]
    assert set(claimed.values_list("attempts", flat=True)) == {1}
    assert [r.token for r in results[1:4]] == [1, 1, 1]  # type: ignore[union-attr]


def test_a_batch_of_finishes_keeps_a_lost_cell_out_of_the_counters(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = make_test(team.workspace, rows=1, variants=2, evaluators=[{"type": "contains", "value": "cell"}])
    start(test, django_capture_on_commit_callbacks)
    plan = engine.load_plan(test.pk)
    assert plan is not None
    specs = list(Trial.objects.filter(test=test).order_by("row_index").values_list("id", "variant_id", "row_index"))
    cells = engine.cells_claim(plan, specs)
    assert all(isinstance(c, engine.Cell) for c in cells)
    lost = cells[1]
    # the sweep took the second cell's lease and another worker claimed it again (attempts moved on)
    Trial.objects.filter(pk=lost.trial_id).update(attempts=lost.token + 1)  # type: ignore[union-attr]
    outcomes = [asyncio.run(engine._call_closing(cell)) for cell in cells]  # type: ignore[arg-type]
    results = engine.cells_finish(plan, list(zip(cells, outcomes, strict=True)))  # type: ignore[arg-type]
    assert results == ["ok", "lost"]
    test.refresh_from_db()
    assert test.finished_cells == 1 and test.failed_cells == 0
    assert test.cost_reserved == lost.reserved  # type: ignore[union-attr]  # still held by the other claim
    kept = Trial.objects.get(pk=cells[0].trial_id)  # type: ignore[union-attr]
    assert kept.status == TrialStatus.OK and kept.passed is True and kept.run_id is not None
    assert "cell" in kept.output and kept.evaluation["passed"] is True
    other = Trial.objects.get(pk=lost.trial_id)  # type: ignore[union-attr]
    assert other.status == TrialStatus.RUNNING and other.output == "" and other.run_id is None
    assert Run.objects.filter(source="abtest", workspace=team.workspace).count() == 2  # both calls recorded


def test_cells_wait_for_the_workspace_call_cap(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any, settings: Any
) -> None:
    import threading

    from providers.quota import in_flight, workspace_slot

    settings.WORKSPACE_MAX_CONCURRENT_CALLS = 1
    providers_on_fake.latency_ms = 20
    test = openai_test(team, rows=4, variants=2, concurrency=4)
    start(test, django_capture_on_commit_callbacks)
    other = workspace_slot(team.workspace.pk).acquire()  # a playground call holds the only slot for a while
    timer = threading.Timer(0.5, other.release)
    timer.start()
    try:
        stats = engine.run_chunk(test.pk, trial_ids(test))
    finally:
        timer.cancel()
        other.release()
    test.refresh_from_db()
    assert test.status == Status.COMPLETED and stats["ok"] == 8
    assert providers_on_fake.request_count == 8 and providers_on_fake.max_in_flight == 1  # one at a time
    assert Run.objects.filter(source="abtest", workspace=team.workspace).count() == 8  # no Run for a wait
    assert in_flight(team.workspace.pk) == 0  # every slot given back


def test_the_call_slots_alone_bound_the_calls_in_flight(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    providers_on_fake.latency_ms = 40
    test = openai_test(team, rows=10, variants=2, concurrency=3)
    start(test, django_capture_on_commit_callbacks)
    stats = engine.run_chunk(test.pk, trial_ids(test))
    test.refresh_from_db()
    assert test.status == Status.COMPLETED and stats["ok"] == 20
    # LANES_PER_SLOT x 3 lanes claim cells ahead, but only the 3 slots' cells are ever in flight
    assert engine.LANES_PER_SLOT > 1
    assert providers_on_fake.request_count == 20 and providers_on_fake.max_in_flight == 3


def test_a_chunk_that_runs_out_takes_over_the_spare_cells_of_the_others(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = make_test(team.workspace, rows=10, variants=2)
    start(test, django_capture_on_commit_callbacks)
    ordered = list(Trial.objects.filter(test=test).order_by("row_index", "repetition", "variant_id"))
    first, second = [t.pk for t in ordered[:10]], [t.pk for t in ordered[10:]]
    # half of what the other chunks have pending, from the end of the test's order, at most the limit
    spare = engine._spare_cells(test.pk, [t.variant_id for t in ordered[:2]], set(first), 50)
    assert [cell[0] for cell in spare] == [t.pk for t in reversed(ordered[15:])]
    assert len(engine._spare_cells(test.pk, [t.variant_id for t in ordered[:2]], set(first), 2)) == 2
    # the second chunk's message is slow to come: the first one runs its cells, then takes over the rest
    stats = engine.run_chunk(test.pk, first)
    test.refresh_from_db()
    assert stats["ok"] == 20 and test.status == Status.COMPLETED
    assert Run.objects.filter(source="abtest", workspace=team.workspace).count() == 20
    assert set(Trial.objects.filter(test=test).values_list("status", "attempts")) == {(TrialStatus.OK, 1)}
    late = engine.run_chunk(test.pk, second)  # it finds nothing left to do and calls nothing again
    assert late["ok"] == 0 and Run.objects.filter(source="abtest", workspace=team.workspace).count() == 20


def test_one_step_finishes_before_it_claims(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    test = openai_test(team, rows=1, variants=2, params={"max_tokens": 40})
    start(test, django_capture_on_commit_callbacks)
    plan = engine.load_plan(test.pk)
    assert plan is not None
    specs = list(Trial.objects.filter(test=test).order_by("variant_id").values_list("id", "variant_id", "row_index"))
    cell = engine.cells_claim(plan, specs[:1])[0]
    assert isinstance(cell, engine.Cell)
    outcome = asyncio.run(engine._call_closing(cell))
    cost = engine._finish_runs(plan, [(cell, outcome)])[0][0].cost
    second = engine._ready(plan, *specs[1])
    assert second is not None and 0 < cost < cell.reserved
    # room for the second cell once the first one's reservation gives way to its (smaller) real cost
    plan.test.cost_cap = cost + second.reserved
    test.cost_cap = plan.test.cost_cap
    test.save(update_fields=["cost_cap"])
    results = engine.cells_step(plan, [(engine.CLAIM, specs[1]), (engine.FINISH, (cell, outcome))])
    assert isinstance(results[0], engine.Cell) and results[1] == "ok"
    test.refresh_from_db()
    assert test.status == Status.RUNNING and test.cost_spent == cost and test.cost_reserved == second.reserved
    assert dict(Trial.objects.filter(test=test).values_list("id", "status")) == {
        specs[0][0]: TrialStatus.OK,
        specs[1][0]: TrialStatus.RUNNING,
    }


def test_cells_claimed_ahead_go_back_unsent_when_the_test_is_cancelled(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    import threading
    import time

    providers_on_fake.latency_ms = 300
    test = openai_test(team, rows=10, variants=2, concurrency=2)
    start(test, django_capture_on_commit_callbacks)
    stats: dict[str, int] = {}
    ids = trial_ids(test)

    def run() -> None:
        try:
            stats.update(engine.run_chunk(test.pk, ids))
        finally:
            connections.close_all()  # this thread's own connection, if it opened one

    chunk = threading.Thread(target=run)
    chunk.start()
    deadline = time.monotonic() + 30
    while providers_on_fake.request_count < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    abtest_cancel(test=test)
    chunk.join(timeout=30)
    assert not chunk.is_alive()
    test.refresh_from_db()
    assert test.status == Status.CANCELLED and test.cost_reserved == 0
    # the cells that were claimed and waiting for one of the 2 slots went back unsent, then were skipped
    assert stats["returned"] >= 1
    assert not Trial.objects.filter(test=test, status__in=[TrialStatus.RUNNING, TrialStatus.PENDING]).exists()
    skipped = Trial.objects.filter(test=test, status=TrialStatus.SKIPPED)
    assert skipped.count() >= stats["returned"] and not skipped.filter(run__isnull=False).exists()
    # a Run for every call made and none for a cell not sent
    assert Run.objects.filter(source="abtest", workspace=team.workspace).count() == providers_on_fake.request_count


def test_started_trials_have_the_models_defaults(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=3, variants=2, repetitions=2)
    start(test, django_capture_on_commit_callbacks)
    trials = list(Trial.objects.filter(test=test).order_by("row_index", "repetition", "variant_id"))
    variants = sorted(test.variants.values_list("id", flat=True))
    cells = [(v, row, rep) for row in range(3) for rep in range(2) for v in variants]
    assert [(t.variant_id, t.row_index, t.repetition) for t in trials] == cells  # one per cell, no more
    fresh = Trial(test=test, variant_id=variants[0], row_index=0, repetition=0)
    for field in Trial._meta.concrete_fields:
        if field.name not in ("id", "variant", "row_index", "repetition"):
            assert all(getattr(t, field.attname) == getattr(fresh, field.attname) for t in trials), field.name


def test_engine_writers_take_turns_on_sqlite() -> None:
    import fcntl
    import threading

    connection = connections[Trial.objects.db]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("the write turn is a file lock beside a SQLite database file")
    order: list[str] = []
    with open(f"{connection.settings_dict['NAME']}.engine-lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process's chunk is writing

        def write() -> None:
            with engine._write_turn():
                order.append("waiting writer")

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=0.3)
        order.append("holder done")
        fcntl.flock(held, fcntl.LOCK_UN)
    writer.join(timeout=10)
    assert order == ["holder done", "waiting writer"]
