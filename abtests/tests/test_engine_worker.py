"""The run engine with a real Celery worker process (studio.testing.start_worker) and the fake server.

SQLite + filesystem broker by default; PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set.
Covers issue 5 "Done when" 1 (a 3 x 50 x 2 run whose statistics match an independent scipy
computation), 2 (SIGKILL mid-run: nothing finished is called again, nothing lost) and 3 (cancel
within 5 s, the cost cap, a 429 storm).
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from scipy import stats

from abtests import engine
from abtests.models import ABTest, Trial, TrialStatus
from abtests.models import TestStatus as Status
from abtests.results import test_results as results_of
from abtests.services import abtest_cancel, abtest_create, abtest_start, dataset_create
from abtests.tests.factories import make_version
from providers.tests.conftest import add_credential
from studio.testing import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalog")]

FINAL = (Status.COMPLETED, Status.CANCELLED, Status.STOPPED_COST_CAP, Status.FAILED)


def worker_env(fake: Any, **extra: Any) -> dict[str, str]:
    env = {
        "OPENAI_BASE_URL": fake.base_url("openai"),
        "PROVIDER_TIMEOUT_SECONDS": "10",
        "ABTEST_LEASE_SECONDS": "300",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def build(team: Any, fake: Any, *, rows: int, variants: list[tuple[str, str]], **kw: Any) -> ABTest:
    credential = add_credential(team.workspace, "openai")
    dataset = dataset_create(
        workspace=team.workspace,
        user=None,
        name=f"rows {rows} {time.monotonic_ns()}",
        columns=[{"name": "question", "type": "text"}, {"name": "marker", "type": "text"}],
        rows=[
            {"question": f"q{i}" + (" red" if i % 3 == 0 else "") + (" blue" if i % 4 == 0 else ""), "marker": f"m{i}"}
            for i in range(rows)
        ],
    )
    specs = []
    for name, text in variants:
        version = make_version(team.workspace, text, name=f"{name} {time.monotonic_ns()}")
        specs.append(
            {
                "name": name,
                "prompt_version": version.pk,
                "provider": "openai",
                "model": "gpt-4o-mini",
                "credential": credential.pk,
                "params": {"max_tokens": 60},
            }
        )
    return abtest_create(
        workspace=team.workspace, user=team.editor, name="worker test", dataset=dataset, variants=specs, **kw
    )


def marker_of(body: dict[str, Any]) -> str:
    """The per-cell marker (variant + row) the prompt text carries, e.g. 'A-m7'."""
    text = body["messages"][-1]["content"]
    text = text if isinstance(text, str) else " ".join(p.get("text", "") for p in text)
    return text.rsplit("cell ", 1)[1].split(")")[0]


def wait_final(test: ABTest, timeout: float = 90) -> ABTest:
    wait_for(
        lambda: ABTest.objects.get(pk=test.pk).status in FINAL, timeout=timeout, description=f"test {test.pk} finishes"
    )
    test.refresh_from_db()
    return test


THREE = [
    ("A", "Say {{question}} (cell A-{{marker}})"),
    ("B", "Say {{question}} red (cell B-{{marker}})"),
    ("C", "Say {{question}} green (cell C-{{marker}})"),
]
EVALUATORS = [{"type": "contains", "value": "red"}, {"type": "contains", "value": "blue"}]


def test_three_variants_fifty_rows_two_repetitions_match_scipy(team: Any, providers_on_fake: Any) -> None:
    fake = providers_on_fake
    fake.latency_ms = 5
    test = build(
        team, fake, rows=50, variants=THREE, repetitions=2, evaluators=EVALUATORS, pass_threshold=0.5, concurrency=10
    )
    with start_worker(extra_env=worker_env(fake)):
        abtest_start(test=test)
        test = wait_final(test)
    assert test.status == Status.COMPLETED, test.reason
    assert Trial.objects.filter(test=test, status=TrialStatus.OK).count() == 300
    assert fake.request_count == 300

    # An independent computation from the raw trials, with scipy directly.
    raw: dict[str, dict[tuple[int, int], tuple[bool, float]]] = {"A": {}, "B": {}, "C": {}}
    for name, row, rep, passed, score in Trial.objects.filter(test=test).values_list(
        "variant__name", "row_index", "repetition", "passed", "score"
    ):
        raw[name][(row, rep)] = (bool(passed), float(score))
    results = results_of(test)
    by_name = {v["name"]: v for v in results["variants"]}
    for name, cells in raw.items():
        passes = sum(p for p, _ in cells.values())
        ci = stats.binomtest(passes, 100).proportion_ci(confidence_level=0.95, method="wilson")
        assert by_name[name]["n"] == 100
        assert by_name[name]["pass_rate"]["estimate"] == pytest.approx(passes / 100)
        assert by_name[name]["pass_rate"]["low"] == pytest.approx(ci.low)
        assert by_name[name]["pass_rate"]["high"] == pytest.approx(ci.high)
    p_raw = {}
    p_score = {}
    for name in ("B", "C"):
        keys = sorted(raw["A"])
        b = sum(1 for k in keys if raw["A"][k][0] and not raw[name][k][0])
        c = sum(1 for k in keys if raw[name][k][0] and not raw["A"][k][0])
        p_raw[name] = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
        diffs = [raw[name][k][1] - raw["A"][k][1] for k in keys]
        nonzero = [d for d in diffs if d != 0]
        p_score[name] = stats.wilcoxon(nonzero).pvalue if len(nonzero) >= 6 else None
    # Holm for two comparisons
    (first, p1), (second, p2) = sorted(p_raw.items(), key=lambda item: item[1])
    holm = {first: min(1.0, 2 * p1)}
    holm[second] = max(holm[first], min(1.0, p2))
    comparison = {v["name"]: v for v in results["comparison"]["variants"]}
    for name in ("B", "C"):
        assert comparison[name]["p_pass"] == pytest.approx(p_raw[name])
        assert comparison[name]["p_pass_adjusted"] == pytest.approx(holm[name])
        if p_score[name] is None:
            assert comparison[name]["p_score"] is None
        else:
            assert comparison[name]["p_score"] == pytest.approx(p_score[name])
    assert p_raw["B"] < 0.05 and p_raw["C"] == 1.0  # B always says "red"; C passes exactly where A does
    assert results["comparison"]["winner"] == "B"
    assert comparison["C"]["significant"] is False


def test_sigkill_mid_run_then_a_new_worker_finishes_without_calling_finished_cells_again(
    team: Any, providers_on_fake: Any, settings: Any
) -> None:
    fake = providers_on_fake
    fake.latency_ms = 200
    settings.ABTEST_LEASE_SECONDS = 3
    settings.ABTEST_STALL_SECONDS = 3
    test = build(team, fake, rows=30, variants=THREE[:2], repetitions=2, evaluators=EVALUATORS, concurrency=4)
    env = worker_env(fake, ABTEST_LEASE_SECONDS=3, ABTEST_STALL_SECONDS=3)
    with start_worker(extra_env=env) as worker:
        abtest_start(test=test)
        wait_for(lambda: Trial.objects.filter(test=test, status=TrialStatus.OK).count() >= 20, timeout=60)
        worker.kill()
    in_flight = Counter(
        f"{name}-m{row}"
        for name, row in Trial.objects.filter(test=test, status=TrialStatus.RUNNING).values_list(
            "variant__name", "row_index"
        )
    )
    done_before = Trial.objects.filter(test=test, status=TrialStatus.OK).count()
    assert 20 <= done_before < 120
    time.sleep(3.5)  # the killed worker's leases expire
    with start_worker(extra_env=env):
        engine.sweep()  # what Celery beat does every 30 s: reclaim the expired leases and re-enqueue
        test = wait_final(test)
    assert test.status == Status.COMPLETED, test.reason
    ok = Trial.objects.filter(test=test, status=TrialStatus.OK)
    assert ok.count() == 120 and test.finished_cells == 120  # no result lost
    finished = Counter(f"{name}-m{row}" for name, row in ok.values_list("variant__name", "row_index"))
    calls = Counter(marker_of(r.body) for r in fake.requests if r.status == 200)
    for cell, count in finished.items():
        # each (variant, row) has 2 repetitions; only cells in flight at the kill may have been sent twice
        assert count <= calls[cell] <= count + in_flight[cell], cell
    assert sum(calls.values()) - 120 <= sum(in_flight.values())


def test_cancel_stops_within_five_seconds(team: Any, providers_on_fake: Any) -> None:
    fake = providers_on_fake
    fake.latency_ms = 200
    test = build(team, fake, rows=100, variants=THREE[:2], concurrency=4)
    with start_worker(extra_env=worker_env(fake)):
        abtest_start(test=test)
        wait_for(lambda: Trial.objects.filter(test=test, status=TrialStatus.OK).count() >= 5, timeout=60)
        started = time.monotonic()
        abtest_cancel(test=test)
        test = wait_final(test, timeout=30)
        stopped_after = time.monotonic() - started
    assert test.status == Status.CANCELLED
    assert stopped_after <= 5.0
    calls = fake.request_count
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).exists()
    time.sleep(0.5)
    assert fake.request_count == calls  # nothing more was sent


def test_cost_cap_stops_before_it_is_crossed_on_a_worker(team: Any, providers_on_fake: Any) -> None:
    fake = providers_on_fake
    cap = Decimal("0.0003")
    test = build(team, fake, rows=40, variants=THREE[:2], concurrency=4, cost_cap=cap)
    with start_worker(extra_env=worker_env(fake)):
        abtest_start(test=test)
        test = wait_final(test)
    spent = sum(Trial.objects.filter(test=test).values_list("cost", flat=True))
    assert test.status == Status.STOPPED_COST_CAP
    assert 0 < spent <= cap and test.cost_spent <= cap
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).exists()


def test_a_429_storm_slows_the_run_and_it_still_completes(team: Any, providers_on_fake: Any) -> None:
    fake = providers_on_fake
    fake.latency_ms = 5
    test = build(team, fake, rows=20, variants=THREE[:2], concurrency=8)
    fake.fail_next(429, times=25, retry_after_ms="100")
    with start_worker(extra_env=worker_env(fake)):
        abtest_start(test=test)
        test = wait_final(test)
    assert test.status == Status.COMPLETED
    assert Trial.objects.filter(test=test, status=TrialStatus.OK).count() == 40
    assert test.rate_limited == 25
    assert fake.request_count == 65


def test_chunks_running_side_by_side_share_the_tests_concurrency(
    team: Any, providers_on_fake: Any, settings: Any
) -> None:
    fake = providers_on_fake
    fake.latency_ms = 150
    settings.ABTEST_PARALLEL_CHUNKS = 2  # read where the test is started (here): 4 chunks of 20, shares 2 + 2
    settings.ABTEST_CHUNK_SIZE = 20
    test = build(team, fake, rows=40, variants=THREE[:2], concurrency=4)
    assert engine.chunk_plan(80, 4) == [(20, 2)] * 4
    with start_worker(extra_env=worker_env(fake), concurrency=2):
        abtest_start(test=test)
        test = wait_final(test)
    assert test.status == Status.COMPLETED and test.finished_cells == 80
    assert fake.request_count == 80
    # two chunks ran at once (more than one chunk's share in flight), never more than the test allows
    assert 3 <= fake.max_in_flight <= 4
