"""A per-workspace cap on provider calls in flight, shared by every process through the cache.

``WORKSPACE_MAX_CONCURRENT_CALLS`` (default 64; 0 = no cap) bounds how many provider calls one
workspace has open at once, across all gunicorn workers and Celery workers. A call holds a *slot*
from just before it is sent until its result (or error) is in::

    with workspace_slot(workspace_id):             # playground and API: full -> CallQuotaExceeded
        ...
    with workspace_slot(workspace_id, count=3):    # three targets side by side: all or nothing
        ...
    async with workspace_slot(workspace_id):       # one async call: waits (up to ``wait`` s) for a slot
        ...
    pool = SlotPool(workspace_id)                  # many async calls on one event loop (the A/B engine)
    async with pool.slot():                        # waits like the above; slots are handed on locally
        ...
    await pool.close()

Slots are leases. With Redis (``REDIS_URL``) each workspace has a sorted set whose members are slot
tokens and whose scores are the times (Redis server clock) their leases end; taking and renewing
slots are single Lua scripts, so concurrent processes never over-book. A process that dies holding
slots never releases them: its tokens are dropped by the next acquire once their lease has run out
(``lease_seconds()``: provider timeout x attempts + retry time + a margin, so a live call is never
reclaimed). Long holders (streams) call ``renew()``, which is rate-limited and cheap.

A ``SlotPool`` serves the many short calls of one event loop (an A/B chunk: tens of calls in flight,
one finishing every few milliseconds) without two Redis round trips per call on the loop: a slot given
back is handed straight to the next call waiting in this loop (the lease stays in Redis), slots come
from Redis in batches, one script call for all the calls waiting, and go back in batches after
``HANDOFF_LINGER_SECONDS`` unclaimed, in a thread, off the loop. A slot is handed on for at most
``HANDOFF_MAX_SECONDS`` after it was taken, then it goes back to Redis and the next call asks anew, so
no lease runs out under a call and other pools get their turn: a pool the cap refused queues in Redis,
and a free slot goes to the pool that has waited longest (one that stops asking loses its place after
``QUEUE_IDLE_SECONDS``). Playground and API calls don't queue: they take a free slot or get a 429.

Without Redis (the local-memory cache of the embedded default and of the SQLite test run) the same
algorithm runs on a dict under a lock: correct within one process, and each process has its own
count (the embedded default serves pages from one process; its Celery worker counts separately).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from django.conf import settings
from django.core.cache import cache

DEFAULT_MAX_CONCURRENT_CALLS = 64
DEFAULT_ASYNC_WAIT_SECONDS = 120.0
RETRY_AFTER_SECONDS = 2
LEASE_MARGIN_SECONDS = 60.0
HANDOFF_LINGER_SECONDS = 0.02  # how long a SlotPool keeps a given-back slot for its next call
HANDOFF_MAX_SECONDS = 2.0  # how long after it was taken a SlotPool still hands a slot on
QUEUE_IDLE_SECONDS = 5.0  # a queued SlotPool that has not asked for this long loses its turn
POOL_MAX_POLL_SECONDS = 0.25  # the longest a SlotPool waits between asks while its calls wait

QUOTA_FULL = "This workspace already has {calls} in flight (the limit is {limit}); try again in a moment."
QUOTA_FULL_FOR = (
    "This workspace already has {calls} in flight and this run needs {count} more "
    "(the limit is {limit}); try again in a moment."
)
QUOTA_TOO_MANY = "This run needs {count} provider calls at once, more than the workspace's limit of {limit}."
QUOTA_WAITED = "This workspace had {calls} in flight (the limit is {limit}) for {waited:.0f} s; no slot came free."


def calls_text(count: int) -> str:
    """``1 provider call``, ``3 provider calls``: the ``{calls}`` of the messages above."""
    return f"{count} provider call{'' if count == 1 else 's'}"


class CallQuotaExceeded(Exception):
    """The workspace's provider calls in flight are at the cap; ``text`` says so, ``retry_after`` in s."""

    def __init__(self, text: str, *, limit: int, in_flight: int, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(text)
        self.text = text
        self.limit = limit
        self.in_flight = in_flight
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.text


def max_concurrent_calls() -> int:
    """The cap per workspace (0 or less: no cap)."""
    return int(getattr(settings, "WORKSPACE_MAX_CONCURRENT_CALLS", DEFAULT_MAX_CONCURRENT_CALLS))


def lease_seconds() -> float:
    """How long a slot lives without renewal: longer than any one call with its retries."""
    timeout = float(getattr(settings, "PROVIDER_TIMEOUT_SECONDS", 120))
    attempts = 1 + int(getattr(settings, "PROVIDER_MAX_RETRIES", 2))
    retrying = float(getattr(settings, "PROVIDER_RETRY_MAX_ELAPSED_MS", 30_000)) / 1000
    return timeout * attempts + retrying + LEASE_MARGIN_SECONDS


def _key(workspace_id: int) -> str:
    return str(cache.make_key(f"quota:calls:{int(workspace_id)}"))


# --- backends --------------------------------------------------------------------------------------

# KEYS[1]: the workspace's set; ARGV: limit, lease seconds, tokens... -> {1 taken | 0 full, in flight}
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local want = #ARGV - 2
if held + want > limit then
  return {0, held}
end
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
local ttl = math.ceil(lease) + 60
if redis.call('TTL', KEYS[1]) < ttl then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return {1, held + want}
"""

# KEYS[1]: the workspace's set, KEYS[2]: its queue (pool id -> since when it waits), KEYS[3]: when each
# queued pool last asked; ARGV: limit, lease seconds, pool id, tokens... -> {how many of the tokens were
# taken (from the first), in flight}. Takes as many as fit under the limit, less one free slot for each
# pool queued ahead of this one (turns: see SlotPool). A pool that got less than it asked for queues (or
# keeps its place); one that got something goes to the back; one that got all leaves; one that stopped
# asking for QUEUE_IDLE_SECONDS is dropped.
_ACQUIRE_SOME = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local pool = ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))) do
  redis.call('ZREM', KEYS[2], gone)
  redis.call('ZREM', KEYS[3], gone)
end
local held = redis.call('ZCARD', KEYS[1])
local want = #ARGV - 4
local since = redis.call('ZSCORE', KEYS[2], pool)
local ahead
if since then
  ahead = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. since)
else
  ahead = redis.call('ZCARD', KEYS[2])
end
local take = math.min(want, math.max(limit - held - ahead, 0))
for i = 5, take + 4 do
  redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
if take == want then
  redis.call('ZREM', KEYS[2], pool)
  redis.call('ZREM', KEYS[3], pool)
else
  if take > 0 or not since then
    redis.call('ZADD', KEYS[2], now, pool)
  end
  redis.call('ZADD', KEYS[3], now, pool)
end
local ttl = math.ceil(lease) + 60
for k = 1, 3 do
  if redis.call('TTL', KEYS[k]) < ttl then
    redis.call('EXPIRE', KEYS[k], ttl)
  end
end
return {take, held + take}
"""

# KEYS[1]: the set; ARGV: lease seconds, tokens... -> how many tokens were still held (and are renewed)
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
    renewed = renewed + 1
  end
end
local ttl = math.ceil(lease) + 60
if redis.call('TTL', KEYS[1]) < ttl then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return renewed
"""

# KEYS[1]: the set -> live tokens (expired ones dropped first)
_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


log = logging.getLogger(__name__)
REDIS_DOWN = "Redis is unreachable (%s); provider calls go ahead without the workspace call cap until it is back."


def _redis_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class _RedisBackend:
    """Leases in Redis. When Redis is unreachable (a restart, a network blip) the cap fails open: a slot
    is granted without being recorded and releasing it is a no-op, so calls and A/B runs carry on
    (slower safety, not an outage); the next call after Redis is back counts again."""

    def __init__(self) -> None:
        self._scripts: dict[str, Any] = {}

    def _client_and_scripts(self) -> tuple[Any, dict[str, Any]]:
        # Django's cache client builds a new redis client object per call (~0.3 ms); keep one on the
        # cache's client (one per thread, over its connection pool). The Script objects (sha + source,
        # EVALSHA with a fallback to EVAL) are made once and run on whichever client is given.
        owner = cache._cache  # type: ignore[attr-defined]
        client = getattr(owner, "_quota_client", None)
        if client is None:
            client = owner.get_client(write=True)
            owner._quota_client = client
        if not self._scripts:
            self._scripts = {name: client.register_script(source) for name, source in _SCRIPTS.items()}
        return client, self._scripts

    def acquire(self, key: str, tokens: list[str], limit: int, lease: float) -> tuple[bool, int]:
        try:
            client, scripts = self._client_and_scripts()
            taken, held = scripts["acquire"](keys=[key], args=[limit, lease, *tokens], client=client)
        except _redis_errors() as exc:
            log.warning(REDIS_DOWN, exc)
            return True, 0
        return bool(taken), int(held)

    def acquire_some(self, key: str, tokens: list[str], limit: int, lease: float, pool: str) -> tuple[int, int]:
        try:
            client, scripts = self._client_and_scripts()
            keys = [key, f"{key}:queue", f"{key}:asked"]
            args = [limit, lease, pool, QUEUE_IDLE_SECONDS, *tokens]
            taken, held = scripts["acquire_some"](keys=keys, args=args, client=client)
        except _redis_errors() as exc:
            log.warning(REDIS_DOWN, exc)
            return len(tokens), 0
        return int(taken), int(held)

    def leave(self, key: str, pool: str) -> None:
        try:
            client, _ = self._client_and_scripts()
            client.zrem(f"{key}:queue", pool)
            client.zrem(f"{key}:asked", pool)
        except _redis_errors() as exc:  # its place lapses after QUEUE_IDLE_SECONDS
            log.warning(REDIS_DOWN, exc)

    def renew(self, key: str, tokens: list[str], lease: float) -> int:
        try:
            client, scripts = self._client_and_scripts()
            return int(scripts["renew"](keys=[key], args=[lease, *tokens], client=client))
        except _redis_errors() as exc:
            log.warning(REDIS_DOWN, exc)
            return 0

    def release(self, key: str, tokens: list[str]) -> None:
        try:
            client, _ = self._client_and_scripts()
            client.zrem(key, *tokens)
        except _redis_errors() as exc:  # the lease runs out on its own
            log.warning(REDIS_DOWN, exc)

    def in_flight(self, key: str) -> int:
        try:
            client, scripts = self._client_and_scripts()
            return int(scripts["count"](keys=[key], client=client))
        except _redis_errors() as exc:
            log.warning(REDIS_DOWN, exc)
            return 0


_SCRIPTS = {"acquire": _ACQUIRE, "acquire_some": _ACQUIRE_SOME, "renew": _RENEW, "count": _COUNT}


class _LocalBackend:
    """The same leases in this process's memory (no Redis): correct across this process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, dict[str, float]] = {}
        self._queues: dict[str, dict[str, list[float]]] = {}

    def _live(self, key: str, now: float) -> dict[str, float]:
        held = self._sets.setdefault(key, {})
        for token in [t for t, end in held.items() if end <= now]:
            del held[token]
        return held

    def acquire(self, key: str, tokens: list[str], limit: int, lease: float) -> tuple[bool, int]:
        with self._lock:
            now = time.monotonic()
            held = self._live(key, now)
            if len(held) + len(tokens) > limit:
                return False, len(held)
            for token in tokens:
                held[token] = now + lease
            return True, len(held)

    def acquire_some(self, key: str, tokens: list[str], limit: int, lease: float, pool: str) -> tuple[int, int]:
        with self._lock:
            now = time.monotonic()
            held = self._live(key, now)
            queue = self._queues.setdefault(key, {})  # pool -> [waiting since, last asked]
            for gone in [p for p, (_, asked) in queue.items() if asked <= now - QUEUE_IDLE_SECONDS]:
                del queue[gone]
            mine = queue.get(pool)
            ahead = sum(1 for p, (since, _) in queue.items() if mine is None or since < mine[0])
            taken = tokens[: max(min(len(tokens), limit - len(held) - ahead), 0)]
            for token in taken:
                held[token] = now + lease
            if len(taken) == len(tokens):
                queue.pop(pool, None)
            else:
                queue[pool] = [now if (taken or mine is None) else mine[0], now]
            return len(taken), len(held)

    def leave(self, key: str, pool: str) -> None:
        with self._lock:
            self._queues.get(key, {}).pop(pool, None)

    def renew(self, key: str, tokens: list[str], lease: float) -> int:
        with self._lock:
            now = time.monotonic()
            held = self._live(key, now)
            renewed = [t for t in tokens if t in held]
            for token in renewed:
                held[token] = now + lease
            return len(renewed)

    def release(self, key: str, tokens: list[str]) -> None:
        with self._lock:
            held = self._sets.get(key, {})
            for token in tokens:
                held.pop(token, None)
            if not held:
                self._sets.pop(key, None)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return len(self._live(key, time.monotonic()))


_redis_backend = _RedisBackend()
_local_backend = _LocalBackend()


def _backend() -> _RedisBackend | _LocalBackend:
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return _redis_backend
    return _local_backend


def in_flight(workspace_id: int) -> int:
    """Provider calls the workspace has in flight now (live slots)."""
    return _backend().in_flight(_key(workspace_id))


# --- slots -----------------------------------------------------------------------------------------


class workspace_slot:  # lower case: used like a function, ``with workspace_slot(ws):``
    """``count`` slots of the workspace's call cap, held for a ``with`` / ``async with`` block.

    ``with`` takes them at once or raises ``CallQuotaExceeded``; ``async with`` waits (polling with
    a growing, jittered delay) up to ``wait`` seconds, then raises it. Leaving the block releases
    them, whatever happened inside; so does losing the object (an unstarted stream dropped).
    """

    def __init__(
        self, workspace_id: int, count: int = 1, *, wait: float = DEFAULT_ASYNC_WAIT_SECONDS, lease: float | None = None
    ) -> None:
        self.workspace_id = int(workspace_id)
        self.count = max(int(count), 1)
        self.wait = wait
        self.lease = float(lease) if lease is not None else lease_seconds()
        self.limit = max_concurrent_calls()
        self.tokens: list[str] = []
        self._renewed_at = 0.0

    @property
    def held(self) -> bool:
        return bool(self.tokens)

    def _try(self) -> tuple[bool, int]:
        tokens = [uuid.uuid4().hex for _ in range(self.count)]
        taken, in_flight_now = _backend().acquire(_key(self.workspace_id), tokens, self.limit, self.lease)
        if taken:
            self.tokens = tokens
            self._renewed_at = time.monotonic()
        return taken, in_flight_now

    def _refusal(self, in_flight_now: int) -> CallQuotaExceeded:
        if self.count > 1:
            text = QUOTA_FULL_FOR.format(calls=calls_text(in_flight_now), count=self.count, limit=self.limit)
        else:
            text = QUOTA_FULL.format(calls=calls_text(in_flight_now), limit=self.limit)
        return CallQuotaExceeded(text, limit=self.limit, in_flight=in_flight_now)

    def _too_many(self) -> CallQuotaExceeded | None:
        if self.count <= self.limit:
            return None
        text = QUOTA_TOO_MANY.format(count=self.count, limit=self.limit)
        return CallQuotaExceeded(text, limit=self.limit, in_flight=0)

    def acquire(self) -> workspace_slot:
        """Take the slots now or raise ``CallQuotaExceeded``."""
        if self.limit <= 0 or self.held:
            return self
        if (error := self._too_many()) is not None:
            raise error
        taken, in_flight_now = self._try()
        if not taken:
            raise self._refusal(in_flight_now)
        return self

    async def acquire_async(self) -> workspace_slot:
        """Take the slots, waiting up to ``wait`` seconds for them; then ``CallQuotaExceeded``."""
        if self.limit <= 0 or self.held:
            return self
        if (error := self._too_many()) is not None:
            raise error
        started = time.monotonic()
        delay = 0.02
        while True:
            taken, in_flight_now = self._try()
            if taken:
                return self
            waited = time.monotonic() - started
            if waited >= self.wait:
                text = QUOTA_WAITED.format(calls=calls_text(in_flight_now), limit=self.limit, waited=waited)
                raise CallQuotaExceeded(text, limit=self.limit, in_flight=in_flight_now)
            await asyncio.sleep(min(delay * random.uniform(0.5, 1.5), max(self.wait - waited, 0.0)))
            delay = min(delay * 2, 1.0)

    def renew(self, *, force: bool = False) -> None:
        """Push the lease end out again; a no-op unless a quarter of the lease has passed (or ``force``)."""
        if not self.held:
            return
        now = time.monotonic()
        if force or now - self._renewed_at >= self.lease / 4:
            _backend().renew(_key(self.workspace_id), self.tokens, self.lease)
            self._renewed_at = now

    def release(self) -> None:
        """Give the slots back (idempotent)."""
        tokens, self.tokens = self.tokens, []
        if tokens:
            _backend().release(_key(self.workspace_id), tokens)

    def __enter__(self) -> workspace_slot:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    async def __aenter__(self) -> workspace_slot:
        return await self.acquire_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        # Never raise from a finalizer (interpreter shutdown, cache gone).
        with contextlib.suppress(Exception):
            self.release()


class SlotPool:
    """Slots of one workspace's call cap for many async calls on one event loop (an A/B chunk's lanes).

    ``async with pool.slot():`` waits up to ``wait`` seconds for a slot, like ``async with
    workspace_slot(...)``, then raises ``CallQuotaExceeded``. Leaving the block hands the slot to the
    next call waiting in this pool, or keeps it ``HANDOFF_LINGER_SECONDS`` for the next one to come;
    slots nobody took go back to the backend together, and a slot taken ``handoff`` seconds ago goes
    back at once. The backend is asked in batches (one script call for every call waiting) from a
    thread, so a slow or restarting Redis never blocks the loop; while it refuses, the pool keeps its
    place in the workspace's queue and asks again at least every ``POOL_MAX_POLL_SECONDS``.
    ``close()`` gives back what the pool still keeps; a pool belongs to one event loop.
    """

    def __init__(
        self,
        workspace_id: int,
        *,
        wait: float = DEFAULT_ASYNC_WAIT_SECONDS,
        lease: float | None = None,
        linger: float = HANDOFF_LINGER_SECONDS,
        handoff: float = HANDOFF_MAX_SECONDS,
    ) -> None:
        self.key = _key(workspace_id)
        self.id = uuid.uuid4().hex  # its place in the workspace's queue
        self.limit = max_concurrent_calls()
        self.wait = wait
        self.lease = float(lease) if lease is not None else lease_seconds()
        self.linger = linger
        # A slot is handed on only for ``handoff`` seconds (others' turn), and only while its lease
        # outlives any call by half the margin.
        self.reuse_seconds = min(handoff, self.lease / 4, LEASE_MARGIN_SECONDS / 2)
        self.in_flight_seen = 0  # the workspace's calls in flight when the backend was last asked
        self._spare: list[tuple[str, float, float]] = []  # (token, taken at, given back at): for a call to come
        self._waiters: collections.deque[asyncio.Future[tuple[str, float]]] = collections.deque()
        self._fetcher: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        self._queued = False  # the backend refused some of its last ask: it has a place in the queue

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.limit <= 0:
            yield
            return
        held = await self._take()
        try:
            yield
        finally:
            self._give(held)

    async def _take(self) -> tuple[str, float]:
        now = time.monotonic()
        while self._spare:
            token, taken_at, _ = self._spare.pop()
            if now - taken_at < self.reuse_seconds:
                return token, taken_at
            self._release([token])
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[str, float]] = loop.create_future()
        self._waiters.append(waiter)
        if self._fetcher is None:
            self._fetcher = asyncio.create_task(self._fetch())
        started = time.monotonic()
        timer = loop.call_later(self.wait, self._expire, waiter, started)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give(waiter.result())  # taken just as the caller was cancelled: pass it on
            raise
        finally:
            timer.cancel()

    def _expire(self, waiter: asyncio.Future[tuple[str, float]], started: float) -> None:
        if waiter.done():
            return
        waited = time.monotonic() - started
        text = QUOTA_WAITED.format(calls=calls_text(self.in_flight_seen), limit=self.limit, waited=waited)
        waiter.set_exception(CallQuotaExceeded(text, limit=self.limit, in_flight=self.in_flight_seen))

    def _give(self, held: tuple[str, float]) -> None:
        token, taken_at = held
        if time.monotonic() - taken_at >= self.reuse_seconds:
            self._release([token])  # back to the backend now; a call waiting here asks anew
            if self._waiters and self._fetcher is None:
                self._fetcher = asyncio.create_task(self._fetch())
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return
        self._spare.append((token, taken_at, time.monotonic()))
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(self.linger, self._flush)

    async def _fetch(self) -> None:
        """Ask the backend for a slot for every call waiting; while it has none free, ask again after
        a growing, jittered delay (slots given back here meanwhile go straight to the waiters)."""
        delay = 0.02
        try:
            while True:
                while self._waiters and self._waiters[0].done():
                    self._waiters.popleft()
                waiting = sum(1 for waiter in self._waiters if not waiter.done())
                if not waiting:
                    if self._queued:  # served by slots handed on here: give up the place in the queue
                        self._queued = False
                        self._background(_backend().leave, self.key, self.id)
                    return
                tokens = [uuid.uuid4().hex for _ in range(waiting)]
                taken, self.in_flight_seen = await asyncio.to_thread(
                    _backend().acquire_some, self.key, tokens, self.limit, self.lease, self.id
                )
                self._queued = taken < len(tokens)
                now = time.monotonic()
                for token in tokens[:taken]:
                    self._give((token, now))
                if not self._queued:
                    delay = 0.02
                    continue
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, POOL_MAX_POLL_SECONDS)
        finally:
            self._fetcher = None

    def _flush(self, *, everything: bool = False) -> None:
        """Give back the slots kept unclaimed for ``linger`` seconds (or all)."""
        self._flush_handle = None
        cutoff = time.monotonic() - self.linger
        tokens: list[str] = []
        kept = []
        for token, taken_at, given_at in self._spare:
            if everything or given_at <= cutoff:
                tokens.append(token)
            else:
                kept.append((token, taken_at, given_at))
        self._spare = kept
        if kept:
            self._flush_handle = asyncio.get_running_loop().call_later(self.linger, self._flush)
        if tokens:
            self._release(tokens)

    def _release(self, tokens: list[str]) -> None:
        """Give slots back to the backend."""
        self._background(_backend().release, self.key, tokens)

    def _background(self, fn: Any, *args: Any) -> None:
        """Run a backend call in a thread, off the loop (``close()`` waits for what is on its way)."""
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(fn, *args))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def close(self) -> None:
        """Give back every slot the pool keeps, and wait until they are back."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        for waiter in self._waiters:  # nobody should still wait; if so, they stop waiting
            waiter.cancel()
        if self._fetcher is not None:
            # Let an ask in flight finish (cancelling it would lose the slots it takes until their
            # lease ran out); with nobody waiting, the fetcher stops after it.
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetcher
        self._flush(everything=True)
        if self._queued:
            self._queued = False
            self._background(_backend().leave, self.key, self.id)
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
