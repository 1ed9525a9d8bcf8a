"""The per-workspace cap on provider calls in flight (providers.quota) and its wiring into the
playground and /api/testing/run/: shared by threads and (with Redis) processes, released on error,
expired leases reclaimed, 429 with Retry-After on the API, the message on the page."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from prompts.services import prompt_create
from providers import quota
from providers.models import Run
from providers.quota import CallQuotaExceeded, SlotPool, in_flight, workspace_slot

USES_REDIS = django_settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
needs_redis = pytest.mark.skipif(not USES_REDIS, reason="processes share the cap only through Redis (REDIS_URL)")

WS = 424242  # a workspace id for the slot tests that need no database row


@pytest.fixture
def cap(settings: Any) -> Any:
    def set_cap(limit: int) -> None:
        settings.WORKSPACE_MAX_CONCURRENT_CALLS = limit

    return set_cap


# --- the semaphore -------------------------------------------------------------------------------------


def test_the_cap_refuses_the_call_over_it_with_a_clear_message_and_frees_on_release(cap: Any) -> None:
    cap(2)
    first, second = workspace_slot(WS).acquire(), workspace_slot(WS).acquire()
    assert in_flight(WS) == 2
    with pytest.raises(CallQuotaExceeded) as refused:
        workspace_slot(WS).acquire()
    assert str(refused.value) == quota.QUOTA_FULL.format(calls="2 provider calls", limit=2)
    assert "already has 2 provider calls in flight (the limit is 2); try again in a moment" in str(refused.value)
    assert refused.value.retry_after == quota.RETRY_AFTER_SECONDS
    assert in_flight(WS + 1) == 0  # another workspace has its own count
    with workspace_slot(WS + 1, count=2):
        pass
    first.release()
    first.release()  # idempotent: gives back nothing twice
    assert in_flight(WS) == 1
    with workspace_slot(WS):
        assert in_flight(WS) == 2
    second.release()
    assert in_flight(WS) == 0


def test_several_slots_are_taken_all_or_none(cap: Any) -> None:
    cap(4)
    held = workspace_slot(WS, count=2).acquire()
    with pytest.raises(CallQuotaExceeded) as refused:
        workspace_slot(WS, count=3).acquire()
    assert "needs 3 more (the limit is 4)" in refused.value.text
    assert in_flight(WS) == 2  # the refused request took none
    with pytest.raises(CallQuotaExceeded, match="more than the workspace's limit of 4"):
        workspace_slot(WS + 1, count=5).acquire()
    held.release()


def test_no_cap_takes_no_slot(cap: Any) -> None:
    cap(0)
    with workspace_slot(WS, count=50):
        assert in_flight(WS) == 0


def test_a_held_slot_is_released_when_the_block_fails(cap: Any) -> None:
    cap(1)
    with pytest.raises(RuntimeError), workspace_slot(WS):
        assert in_flight(WS) == 1
        raise RuntimeError("the provider call blew up")
    assert in_flight(WS) == 0

    async def failing() -> None:
        async with workspace_slot(WS):
            assert in_flight(WS) == 1
            raise ValueError("bad answer")

    with pytest.raises(ValueError):
        asyncio.run(failing())
    assert in_flight(WS) == 0


def test_a_dropped_holder_gives_its_slots_back(cap: Any) -> None:
    cap(1)
    holder = workspace_slot(WS).acquire()
    assert in_flight(WS) == 1
    del holder
    assert in_flight(WS) == 0


def test_an_expired_lease_is_reclaimed(cap: Any) -> None:
    cap(1)
    # A process that died holding a slot: its token stays until the lease runs out.
    taken, _ = quota._backend().acquire(quota._key(WS), ["crashed-process"], 1, 0.3)
    assert taken and in_flight(WS) == 1
    with pytest.raises(CallQuotaExceeded):
        workspace_slot(WS).acquire()
    time.sleep(0.45)
    with workspace_slot(WS):
        assert in_flight(WS) == 1


def test_renewing_keeps_a_long_holder_past_its_first_lease(cap: Any) -> None:
    cap(1)
    holder = workspace_slot(WS, lease=0.4).acquire()
    for _ in range(4):
        time.sleep(0.15)
        holder.renew()  # rate-limited to a quarter of the lease
    assert in_flight(WS) == 1  # 0.6 s after taking a 0.4 s lease
    with pytest.raises(CallQuotaExceeded):
        workspace_slot(WS).acquire()
    holder.release()


def test_threads_racing_for_slots_never_overbook(cap: Any) -> None:
    cap(5)
    start = threading.Barrier(20)
    got: list[workspace_slot] = []
    refused: list[CallQuotaExceeded] = []
    lock = threading.Lock()

    def take() -> None:
        start.wait()
        try:
            slot = workspace_slot(WS).acquire()
        except CallQuotaExceeded as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                got.append(slot)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(got), len(refused)) == (5, 15) and in_flight(WS) == 5
    for slot in got:
        slot.release()


def test_async_holders_wait_for_a_slot_instead_of_failing(cap: Any) -> None:
    cap(2)
    peak = 0

    async def cell(n: int) -> int:
        nonlocal peak
        async with workspace_slot(WS, wait=10):
            peak = max(peak, in_flight(WS))
            await asyncio.sleep(0.05)
            return n

    async def many() -> list[int]:
        return await asyncio.gather(*(cell(n) for n in range(8)))

    assert asyncio.run(many()) == list(range(8))
    assert peak == 2 and in_flight(WS) == 0


def test_the_async_wait_is_bounded(cap: Any) -> None:
    cap(1)
    holder = workspace_slot(WS).acquire()

    async def wait_briefly() -> None:
        async with workspace_slot(WS, wait=0.2):
            pass  # pragma: no cover - never entered

    started = time.monotonic()
    with pytest.raises(CallQuotaExceeded, match="no slot came free"):
        asyncio.run(wait_briefly())
    assert 0.2 <= time.monotonic() - started < 2
    holder.release()


# --- a pool of slots for one event loop (the A/B engine) --------------------------------------------------


@pytest.fixture
def backend_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the pools ask the backend (the real one, counted on the way through)."""
    counts = {"acquire_some": 0, "release": 0}
    backend = quota._backend()
    for name in counts:
        real = getattr(backend, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            counts[_name] += 1
            return _real(*args)

        monkeypatch.setattr(backend, name, counted)
    return counts


def test_a_pool_hands_slots_on_without_asking_the_backend_for_each_call(
    cap: Any, backend_calls: dict[str, int]
) -> None:
    cap(3)
    peak = 0
    held = 0

    async def cell(pool: SlotPool, n: int) -> int:
        nonlocal peak, held
        async with pool.slot():
            held += 1
            peak = max(peak, held)
            assert in_flight(WS) <= 3  # never more leases than the cap
            await asyncio.sleep(0.005)
            held -= 1
            return n

    async def many() -> tuple[list[int], int]:
        pool = SlotPool(WS, wait=10, linger=5)  # keeps unclaimed slots until close() here
        done = await asyncio.gather(*(cell(pool, n) for n in range(60)))
        kept = in_flight(WS)  # the pool keeps its slots a moment for calls to come
        await pool.close()
        return list(done), kept

    done, kept = asyncio.run(many())
    assert done == list(range(60)) and peak == 3
    assert 1 <= kept <= 3 and in_flight(WS) == 0  # close() gave them all back
    # 60 calls through 3 slots: the slots were handed on, not taken and given back 60 times each. While
    # calls wait, the pool asks again now and then (another holder may free a slot), less often each time.
    assert backend_calls["acquire_some"] <= 12 and backend_calls["release"] == 1


def test_a_pool_gives_back_unclaimed_slots_after_the_linger(cap: Any) -> None:
    cap(5)

    async def one_call_then_idle() -> tuple[int, int, int]:
        pool = SlotPool(WS, linger=0.05)
        async with pool.slot():
            during = in_flight(WS)
        right_after = in_flight(WS)
        for _ in range(200):  # given back in a thread once the linger is over
            await asyncio.sleep(0.05)
            if not in_flight(WS):
                break
        later = in_flight(WS)
        await pool.close()
        return during, right_after, later

    assert asyncio.run(one_call_then_idle()) == (1, 1, 0)


def test_a_pool_shares_the_cap_with_other_holders_and_its_wait_is_bounded(cap: Any) -> None:
    cap(2)
    playground = workspace_slot(WS).acquire()  # another call of the workspace holds one of the two

    async def three_cells() -> list[int]:
        pool = SlotPool(WS, wait=10)
        peak = 0

        async def cell() -> None:
            nonlocal peak
            async with pool.slot():
                peak = max(peak, in_flight(WS))
                await asyncio.sleep(0.02)

        await asyncio.gather(cell(), cell(), cell())
        await pool.close()
        return [peak, in_flight(WS)]

    assert asyncio.run(three_cells()) == [2, 1]  # one at a time beside the other holder
    second = workspace_slot(WS).acquire()  # now the cap is full

    async def wait_briefly() -> None:
        pool = SlotPool(WS, wait=0.2)
        try:
            async with pool.slot():
                pass  # pragma: no cover - never entered
        finally:
            await pool.close()

    started = time.monotonic()
    with pytest.raises(CallQuotaExceeded, match=r"had 2 provider calls in flight .* no slot came free"):
        asyncio.run(wait_briefly())
    assert time.monotonic() - started >= 0.2
    playground.release()
    second.release()
    assert in_flight(WS) == 0


def test_a_pool_never_hands_on_a_slot_whose_lease_could_run_out_under_the_next_call(cap: Any) -> None:
    cap(1)

    async def chain() -> list[int]:
        # a lease of 1 s: a slot is handed on only in its first 0.25 s; each call takes 0.3 s, so a slot
        # handed on and on would run out under the fourth call
        pool = SlotPool(WS, lease=1.0, linger=0.05)
        seen = []
        for _ in range(4):
            async with pool.slot():
                await asyncio.sleep(0.3)
                seen.append(in_flight(WS))  # 0 here would mean a call outlived its slot's lease
        await pool.close()
        return seen

    assert asyncio.run(chain()) == [1, 1, 1, 1]
    assert in_flight(WS) == 0


def test_closing_a_pool_while_it_asks_the_backend_loses_no_slot(cap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cap(5)
    backend = quota._backend()
    real = backend.acquire_some

    def slow(*args: Any) -> Any:  # a slow Redis: the answer comes after the caller gave up
        time.sleep(0.3)
        return real(*args)

    monkeypatch.setattr(backend, "acquire_some", slow)

    async def give_up_then_close() -> int:
        pool = SlotPool(WS, wait=10)

        async def call() -> None:
            async with pool.slot():
                pass  # pragma: no cover - cancelled while waiting

        waiting = asyncio.create_task(call())
        await asyncio.sleep(0.05)  # the pool is asking the backend now
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await pool.close()
        await asyncio.sleep(0.5)  # long after the late answer
        return in_flight(WS)

    assert asyncio.run(give_up_then_close()) == 0  # the slot the late answer took went back


def test_pools_refused_a_slot_queue_for_their_turn(cap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, key, lease = quota._backend(), quota._key(WS), 60.0
    try:
        # A fills the cap of 1; B asks and is refused: B queues
        assert backend.acquire_some(key, ["a1"], 1, lease, "A") == (1, 1)
        assert backend.acquire_some(key, ["b1"], 1, lease, "B") == (0, 1)
        # A's slot comes back and A asks first: the free slot is B's turn, A queues behind B
        backend.release(key, ["a1"])
        assert backend.acquire_some(key, ["a2"], 1, lease, "A") == (0, 0)
        assert backend.acquire_some(key, ["b2"], 1, lease, "B") == (1, 1)
        backend.release(key, ["b2"])
        # B got all it asked for and left the queue; C, new, waits behind A; A leaves, and C gets it
        assert backend.acquire_some(key, ["c1"], 1, lease, "C") == (0, 0)
        backend.leave(key, "A")
        assert backend.acquire_some(key, ["c2"], 1, lease, "C") == (1, 1)
        backend.release(key, ["c2"])
        # a pool that stops asking loses its place after QUEUE_IDLE_SECONDS
        monkeypatch.setattr(quota, "QUEUE_IDLE_SECONDS", 0.3)
        assert backend.acquire_some(key, ["d1", "d2"], 1, lease, "D") == (1, 1)  # D queues for its second
        backend.release(key, ["d1"])
        assert backend.acquire_some(key, ["e1"], 1, lease, "E") == (0, 0)  # D's turn
        time.sleep(0.5)  # D never asks again
        assert backend.acquire_some(key, ["e2"], 1, lease, "E") == (1, 1)
        backend.release(key, ["e2"])
    finally:
        for pool in "ABCDE":
            backend.leave(key, pool)


def test_a_busy_pool_gives_another_pool_its_turn(cap: Any) -> None:
    """Two chunks of the workspace (here two event loops in two threads, as two worker processes) share
    a cap of 2. One keeps three calls going and would hand its two slots on forever; the other, which
    started later, still gets a slot long before the busy one is done (a queue of turns, and slots
    handed on for at most ``handoff`` seconds)."""
    cap(2)
    finished: dict[str, float] = {}
    busy_started = threading.Event()

    def busy() -> None:
        async def lane(pool: SlotPool) -> None:
            for _ in range(100):
                async with pool.slot():
                    busy_started.set()
                    await asyncio.sleep(0.01)

        async def run() -> None:
            pool = SlotPool(WS, wait=60, handoff=0.1)
            await asyncio.gather(lane(pool), lane(pool), lane(pool))  # one lane always waits
            await pool.close()

        asyncio.run(run())
        finished["busy"] = time.monotonic()

    def other() -> None:
        async def run() -> None:
            pool = SlotPool(WS, wait=60)
            for _ in range(3):
                async with pool.slot():
                    await asyncio.sleep(0.01)
            await pool.close()

        busy_started.wait(10)
        asyncio.run(run())
        finished["other"] = time.monotonic()

    threads = [threading.Thread(target=busy), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert finished["other"] < finished["busy"]  # 300 calls of 10 ms through 2 slots take 1.5 s at least
    assert in_flight(WS) == 0


# --- across processes (Redis) ---------------------------------------------------------------------------

HOLDER = """
import os, sys
import django
django.setup()
from providers.quota import in_flight, workspace_slot
slot = workspace_slot({ws}, count={count}, lease={lease}).acquire()
print("held", in_flight({ws}), flush=True)
if sys.stdin.readline().strip() == "crash":
    os._exit(0)  # dies holding its slots: no release, no finalizer
slot.release()
print("released", flush=True)
"""


def holder_process(ws: int, count: int, limit: int, lease: float = 60.0) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "studio.test_settings")
    env["WORKSPACE_MAX_CONCURRENT_CALLS"] = str(limit)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(ws=ws, count=count, lease=lease)],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.split() == ["held", str(count)], line
    return process


@needs_redis
def test_two_processes_share_the_cap(cap: Any) -> None:
    cap(3)
    process = holder_process(WS, count=2, limit=3)
    try:
        assert in_flight(WS) == 2  # the other process's slots count here
        mine = workspace_slot(WS).acquire()
        with pytest.raises(CallQuotaExceeded, match="already has 3 provider calls in flight"):
            workspace_slot(WS).acquire()
        mine.release()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("release\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "released"
        assert process.wait(timeout=30) == 0
        with workspace_slot(WS, count=3):
            assert in_flight(WS) == 3
    finally:
        process.kill()
        process.wait(timeout=30)


@needs_redis
def test_a_crashed_processes_slots_come_back_after_the_lease(cap: Any) -> None:
    cap(2)
    process = holder_process(WS, count=2, limit=2, lease=1.0)
    assert process.stdin is not None
    process.stdin.write("crash\n")
    process.stdin.flush()
    assert process.wait(timeout=30) == 0
    with pytest.raises(CallQuotaExceeded):
        workspace_slot(WS).acquire()
    time.sleep(1.2)
    with workspace_slot(WS, count=2):
        assert in_flight(WS) == 2


# --- wiring: /api/testing/run/ and the playground ----------------------------------------------------

CONTENT = {
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello {{name}}"}]}],
    "variables": [{"name": "name", "type": "text", "default": "Ada"}],
    "model": {"provider": "echo", "name": "echo"},
}


def api_run(api: Any, team: Any, *, targets: int = 1, stream: bool = False) -> Any:
    body = {
        "workspace": team.workspace.pk,
        "content": CONTENT,
        "targets": [{"provider": "echo", "model": "echo"}] * targets,
        "stream": stream,
    }
    return api(team.editor).post(reverse("api:testing-run"), body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("stream", [False, True])
def test_the_api_answers_429_with_retry_after_when_the_workspace_is_at_its_cap(
    team: Any, api: Any, cap: Any, stream: bool
) -> None:
    cap(2)
    busy = workspace_slot(team.workspace.pk).acquire()  # another call of this workspace in flight
    response = api_run(api, team, targets=2, stream=stream)
    assert response.status_code == 429
    assert response["Retry-After"] == str(quota.RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["code"] == "call_quota" and body["retry_after"] == quota.RETRY_AFTER_SECONDS
    assert body["detail"].startswith(quota.QUOTA_FULL_FOR.format(calls="1 provider call", count=2, limit=2))
    assert not Run.objects.exists()  # refused before anything was recorded or sent
    assert in_flight(team.workspace.pk) == 1

    def finished(response: Any) -> Any:
        assert response.status_code == (200 if stream else 201)
        if stream:
            b"".join(response.streaming_content)
        return response

    finished(api_run(api, team, targets=1, stream=stream))  # one slot is free
    assert in_flight(team.workspace.pk) == 1
    busy.release()
    finished(api_run(api, team, targets=2, stream=stream))
    assert in_flight(team.workspace.pk) == 0  # every slot came back after the calls
    assert Run.objects.filter(status="ok").count() == 3


@pytest.mark.django_db
def test_a_failed_provider_call_gives_its_slot_back(team: Any, api: Any, cap: Any, providers_on_fake: Any) -> None:
    from providers.tests.conftest import add_credential

    cap(1)
    add_credential(team.workspace, "openai")
    providers_on_fake.fail_next(401, message="bad key")
    body = {
        "workspace": team.workspace.pk,
        "content": CONTENT,
        "targets": [{"provider": "openai", "model": "gpt-4o-mini"}],
    }
    response = api(team.editor).post(reverse("api:testing-run"), body, format="json")
    assert response.status_code == 201 and response.json()["runs"][0]["status"] == "error"
    assert in_flight(team.workspace.pk) == 0


@pytest.mark.django_db
def test_the_playground_shows_the_cap_message(team: Any, cap: Any) -> None:
    cap(1)
    prompt = prompt_create(workspace=team.workspace, user=team.owner, name="Hello", content=CONTENT)
    client = Client()
    client.force_login(team.editor)
    body = {"prompt": prompt.pk, "version": "", "variables": {}, "targets": [{"model": "echo:echo"}]}
    url = reverse("providers:playground-stream")
    with workspace_slot(team.workspace.pk):
        response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 429 and response["Retry-After"] == str(quota.RETRY_AFTER_SECONDS)
    # static/js/playground.js shows ``detail`` in place of the run's output.
    assert response.json()["detail"] == quota.QUOTA_FULL.format(calls="1 provider call", limit=1)
    assert not Run.objects.exists()
    ok = client.post(url, data=json.dumps(body), content_type="application/json")
    assert ok.status_code == 200
    b"".join(ok.streaming_content)
    assert in_flight(team.workspace.pk) == 0 and Run.objects.get().status == "ok"


def test_the_cap_fails_open_while_redis_is_unreachable(
    team: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis restart must not fail provider calls or A/B cells: slots are granted unrecorded meanwhile."""
    settings.WORKSPACE_MAX_CONCURRENT_CALLS = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    assert quota._backend() is quota._redis_backend
    caplog.set_level("WARNING", logger="providers.quota")
    with workspace_slot(team.workspace.pk) as first, workspace_slot(team.workspace.pk) as second:
        assert first.held and second.held  # over the cap of 1, because nothing can be counted
    assert in_flight(team.workspace.pk) == 0

    async def one_cell() -> bool:
        async with workspace_slot(team.workspace.pk, wait=0.1) as slot:
            return slot.held

    async def cells_of_a_chunk() -> int:
        pool = SlotPool(team.workspace.pk, wait=0.1)
        entered = 0

        async def cell() -> None:
            nonlocal entered
            async with pool.slot():
                entered += 1
                await asyncio.sleep(0.01)

        await asyncio.gather(cell(), cell(), cell())
        await pool.close()
        return entered

    assert asyncio.run(one_cell())
    assert asyncio.run(cells_of_a_chunk()) == 3
    assert "Redis is unreachable" in caplog.text and "without the workspace call cap" in caplog.text
