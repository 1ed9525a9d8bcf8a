"""A per-workspace cap on provider calls in flight, shared by every process through the cache.

``WORKSPACE_MAX_CONCURRENT_CALLS`` (default 64; 0 = no cap) bounds how many provider calls one
workspace has open at once, across all gunicorn workers and Celery workers. A call holds a *slot*
from just before it is sent until its result (or error) is in::

    with workspace_slot(workspace_id):             # playground and API: full -> CallQuotaExceeded
        ...
    with workspace_slot(workspace_id, count=3):    # three targets side by side: all or nothing
        ...
    async with workspace_slot(workspace_id):       # A/B engine: waits (up to ``wait`` s) for a slot
        ...

Slots are leases. With Redis (``REDIS_URL``) each workspace has a sorted set whose members are slot
tokens and whose scores are the times (Redis server clock) their leases end; taking and renewing
slots are single Lua scripts, so concurrent processes never over-book. A process that dies holding
slots never releases them: its tokens are dropped by the next acquire once their lease has run out
(``lease_seconds()``: provider timeout x attempts + retry time + a margin, so a live call is never
reclaimed). Long holders (streams) call ``renew()``, which is rate-limited and cheap.

Without Redis (the local-memory cache of the embedded default and of the SQLite test run) the same
algorithm runs on a dict under a lock: correct within one process, and each process has its own
count (the embedded default serves pages from one process; its Celery worker counts separately).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
import uuid
from types import TracebackType
from typing import Any

from django.conf import settings
from django.core.cache import cache

DEFAULT_MAX_CONCURRENT_CALLS = 64
DEFAULT_ASYNC_WAIT_SECONDS = 120.0
RETRY_AFTER_SECONDS = 2
LEASE_MARGIN_SECONDS = 60.0

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


_SCRIPTS = {"acquire": _ACQUIRE, "renew": _RENEW, "count": _COUNT}


class _LocalBackend:
    """The same leases in this process's memory (no Redis): correct across this process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, dict[str, float]] = {}

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
