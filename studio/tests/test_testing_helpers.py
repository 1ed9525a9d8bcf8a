"""studio.testing helpers that the whole suite relies on."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache

from studio.testing import clear_test_cache

USES_REDIS = settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def test_clear_test_cache_empties_this_processes_cache() -> None:
    cache.set("throttle-counter", 20)
    clear_test_cache()
    assert cache.get("throttle-counter") is None


@pytest.mark.skipif(not USES_REDIS, reason="a shared cache exists only with REDIS_URL (the PostgreSQL + Redis CI run)")
def test_clear_test_cache_leaves_other_processes_keys_and_celery_messages_alone() -> None:
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    foreign = ["other-worker:1:throttle-counter", "celery-queue-of-another-test"]
    for key in foreign:
        client.set(key, "1")
    try:
        cache.set("mine", 1)
        clear_test_cache()
        assert cache.get("mine") is None
        assert all(client.get(key) == b"1" for key in foreign)
    finally:
        client.delete(*foreign)
