"""Faults during an A/B test run on PostgreSQL + Redis with a real Celery worker and the fake provider.

Each test starts a run, injects one fault in the middle of it, then plays Celery beat (the engine's
sweep every second, as ``abtests.sweep`` is scheduled) until the test is final. The run must complete:
every cell finished exactly once in the Trial table, nothing left pending or running, no Run left
"running", and every result finished before the fault unchanged afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import InterfaceError, OperationalError

from abtests import engine
from abtests.models import ABTest, Trial, TrialStatus
from abtests.models import TestStatus as Status
from abtests.services import abtest_start
from abtests.tests.test_engine_worker import EVALUATORS, FINAL, THREE, build, worker_env
from providers.models import Run, RunStatus
from studio.testing import start_worker, wait_for
from tests.faults.conftest import (
    pg_ctl,
    reconnect_database,
    redis_cli,
    redis_ready,
    redis_start,
    wait_pg,
    wait_redis,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3  # a claimed cell of a dead worker is reclaimed after this
CHUNK = 10  # small chunks: several messages wait in the broker while one runs
ROWS = 30
CELLS = ROWS * 2  # two variants, one repetition
NOT_FINAL_AFTER = "Test {pk} is still {status} after {timeout:.0f} s of sweeps; trials: {trials}.\nWorker log:\n{log}"


@pytest.fixture
def engine_settings(settings: Any) -> None:
    """The test process runs the sweep (as beat would): it must use the same short lease and stall times."""
    settings.ABTEST_LEASE_SECONDS = LEASE_SECONDS
    settings.ABTEST_STALL_SECONDS = LEASE_SECONDS
    settings.ABTEST_CHUNK_SIZE = CHUNK


def env(fake: Any) -> dict[str, str]:
    return worker_env(
        fake, ABTEST_LEASE_SECONDS=LEASE_SECONDS, ABTEST_STALL_SECONDS=LEASE_SECONDS, ABTEST_CHUNK_SIZE=CHUNK
    )


def new_test(team: Any, fake: Any) -> ABTest:
    fake.latency_ms = 150
    return build(team, fake, rows=ROWS, variants=THREE[:2], evaluators=EVALUATORS, concurrency=2)


def trial_counts(test: ABTest) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Trial.objects.filter(test=test).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def ok_count(test: ABTest) -> int:
    return Trial.objects.filter(test=test, status=TrialStatus.OK).count()


def finished_results(test: ABTest) -> dict[int, tuple[Any, ...]]:
    """The finished trials' results, to check after the fault that none was lost or rewritten."""
    return {
        pk: rest
        for pk, *rest in Trial.objects.filter(test=test, status=TrialStatus.OK).values_list(
            "pk", "output", "passed", "score", "run_id", "finished_at"
        )
    }


def beat_until_final(
    test: ABTest, worker: Any, *, timeout: float = 120.0, every: float = 1.0
) -> tuple[ABTest, dict[str, int]]:
    """Run the engine's sweep every ``every`` s, as Celery beat does, until the test is final.

    Returns the test and the sweeps' totals (sweeps, reclaimed leases, chunks re-enqueued).
    """
    deadline = time.monotonic() + timeout
    totals = {"sweeps": 0, "reclaimed": 0, "enqueued": 0}
    while True:
        try:
            status = ABTest.objects.filter(pk=test.pk).values_list("status", flat=True).first()
            if status in FINAL:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    NOT_FINAL_AFTER.format(
                        pk=test.pk, status=status, timeout=timeout, trials=trial_counts(test), log=worker.log()[-4000:]
                    )
                )
            stats = engine.sweep()
            totals["sweeps"] += 1
            totals["reclaimed"] += stats["reclaimed"]
            totals["enqueued"] += stats["enqueued"]
        except (OperationalError, InterfaceError):
            reconnect_database()  # a connection the fault broke: the next loop reconnects
        time.sleep(every)
    test.refresh_from_db()
    print(f"test {test.pk}: {test.status} after {totals}")
    return test, totals


def assert_completed_and_nothing_lost(test: ABTest, before: dict[int, tuple[Any, ...]]) -> None:
    assert test.status == Status.COMPLETED, test.reason
    assert test.finished_at is not None
    assert trial_counts(test) == {TrialStatus.OK: CELLS}
    assert test.finished_cells == CELLS
    after = finished_results(test)
    assert {pk: after.get(pk) for pk in before} == before  # every result finished before the fault is intact
    assert not Run.objects.filter(status=RunStatus.RUNNING).exists()
    # one Run per finished cell, each linked from exactly one Trial
    linked = [row[3] for row in after.values()]
    assert len(set(linked)) == CELLS and None not in linked


@pytest.fixture
def running_test(team: Any, providers_on_fake: Any, engine_settings: None) -> Iterator[ABTest]:
    yield new_test(team, providers_on_fake)


def test_postgresql_restart_mid_run_the_worker_survives_and_the_run_completes(
    running_test: ABTest, providers_on_fake: Any, fault_log: list[str]
) -> None:
    test = running_test
    with start_worker(extra_env=env(providers_on_fake)) as worker:
        abtest_start(test=test)
        wait_for(lambda: ok_count(test) >= 10, timeout=60, description="10 cells finished before the fault")
        before = finished_results(test)
        pg_ctl("restart")  # every connection of the cluster drops, the worker's included
        fault_log.append("postgresql restart")
        wait_pg()
        reconnect_database()
        test, totals = beat_until_final(test, worker)
        assert worker.alive, worker.log()[-3000:]
        log = worker.log()
    # The restart reached the worker: chunks died on the dropped connection; the sweep brought their cells back.
    assert "OperationalError" in log, log[-3000:]
    assert totals["enqueued"] >= 1
    assert len(before) >= 10
    assert_completed_and_nothing_lost(test, before)


def test_redis_restart_mid_run_loses_queued_chunks_and_the_run_still_completes(
    running_test: ABTest, providers_on_fake: Any, fault_log: list[str]
) -> None:
    test = running_test
    database = urlparse(os.environ["REDIS_URL"]).path.lstrip("/") or "0"
    with start_worker(extra_env=env(providers_on_fake), concurrency=1) as worker:
        abtest_start(test=test)
        wait_for(lambda: ok_count(test) >= 3, timeout=60, description="3 cells finished before the fault")
        queued = int(redis_cli("-n", database, "llen", worker.queue) or 0)
        before = finished_results(test)
        redis_cli("shutdown", "nosave")  # the queued chunk messages are gone with it
        fault_log.append("redis restart")
        wait_for(lambda: not redis_ready(), timeout=15, description="Redis stopped")
        time.sleep(1.0)
        redis_start()
        wait_redis()
        test, _ = beat_until_final(test, worker)
        assert worker.alive, worker.log()[-3000:]
    assert queued >= 1, "no chunk message was waiting in Redis when it went down: the fault tested nothing"
    # The lost messages' cells were run all the same: the running chunk takes over the spare cells of
    # its test when it runs out of its own (or the sweep re-enqueues them if no chunk is left running).
    assert_completed_and_nothing_lost(test, before)
    # the restart cut no call short, so each cell was called exactly once
    assert providers_on_fake.request_count == CELLS


def test_sigkill_worker_mid_run_then_the_sweep_and_a_new_worker_finish_it(
    running_test: ABTest, providers_on_fake: Any, fault_log: list[str]
) -> None:
    test = running_test
    fake = providers_on_fake
    with start_worker(extra_env=env(fake)) as worker:
        abtest_start(test=test)
        wait_for(lambda: ok_count(test) >= 10, timeout=60, description="10 cells finished before the fault")
        worker.kill()
        fault_log.append("celery worker SIGKILL")
    before = finished_results(test)
    in_flight = Trial.objects.filter(test=test, status=TrialStatus.RUNNING).count()
    with start_worker(extra_env=env(fake)) as second:
        test, totals = beat_until_final(test, second)
    assert_completed_and_nothing_lost(test, before)
    assert totals["reclaimed"] == in_flight  # the dead worker's leases were taken back by the sweep
    # nothing finished was called again: at most the cells in flight at the kill were sent twice
    assert CELLS <= fake.request_count <= CELLS + in_flight
