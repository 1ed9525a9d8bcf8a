"""A real Celery worker process executes ``studio.ping``: web -> broker -> worker -> database.

Runs in both modes: SQLite + the filesystem broker (default) and PostgreSQL + Redis (.ci/run).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings

from studio.models import HealthPing
from studio.tasks import ping
from studio.testing import database_url_for_current_connection, start_worker, wait_for

pytestmark = pytest.mark.worker


def test_worker_process_executes_ping_and_writes_row(transactional_db: Any) -> None:
    token = uuid.uuid4().hex
    with start_worker() as worker:
        ping.apply_async(args=[token], queue=worker.queue)
        row = wait_for(
            lambda: HealthPing.objects.filter(token=token).first(),
            timeout=60,
            description=f"a HealthPing row written by the worker; worker log:\n{worker.log()}",
        )
        assert worker.alive
    assert row.worker  # the worker's host name


def test_delay_inside_start_worker_goes_to_that_worker(transactional_db: Any) -> None:
    """Service code calls ``task.delay()`` without a queue; the helper routes it to its worker."""
    tokens = [uuid.uuid4().hex for _ in range(3)]
    with start_worker():
        for token in tokens:
            ping.delay(token)
        wait_for(lambda: HealthPing.objects.filter(token__in=tokens).count() == 3, timeout=60)


def test_killed_worker_stops_at_once(transactional_db: Any) -> None:
    with start_worker() as worker:
        worker.kill()
        assert not worker.alive
        assert worker.process.returncode == -9


def test_worker_uses_the_test_database(transactional_db: Any) -> None:
    url = database_url_for_current_connection()
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert url.startswith("sqlite:///") and "test" in url
    else:
        assert url.rsplit("/", 1)[1].split("?")[0].startswith("test_")
