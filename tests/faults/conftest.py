"""Fault injection tests (issue 8): restart PostgreSQL, restart Redis, SIGKILL a Celery worker, SIGKILL a
gunicorn worker, each in the middle of real work, and check that the work ends (finished, or failed with
a reason), nothing stays "running" and no finished result is lost.

These tests disturb services every other process on the machine uses (a PostgreSQL restart drops every
connection of the cluster), so they never run inside the parallel suites: they are skipped unless
``STUDIO_FAULT_TESTS=1``, and ``.ci/run`` runs them in a serial phase of their own after the PostgreSQL +
Redis suite::

    STUDIO_FAULT_TESTS=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/pytest tests/faults -p no:cacheprovider -q

They need PostgreSQL and Redis on this machine (DATABASE_URL / REDIS_URL) and the right to restart them
(root, as in CI). Every test leaves both services running: a ``finally`` starts whatever is down and
waits for it (bounded).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import connections

from providers.tests import conftest as provider_fixtures

ENABLE_VAR = "STUDIO_FAULT_TESTS"
SKIP_DISABLED = (
    f"Fault injection tests restart shared services; they run only with {ENABLE_VAR}=1 (the serial "
    "'faults' phase of .ci/run)."
)
SKIP_NEEDS_SERVICES = (
    "Fault injection tests need PostgreSQL and Redis: set DATABASE_URL (postgres://...) and REDIS_URL."
)
SERVICE_DOWN = "{service} is not back after {timeout:.0f} s: {detail}"

# The fake provider server of the providers app (a real local HTTP server in this process).
fake_provider = provider_fixtures.fake_provider
providers_on_fake = provider_fixtures.providers_on_fake


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    enabled = os.environ.get(ENABLE_VAR) == "1"
    services = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) and bool(
        os.environ.get("REDIS_URL")
    )
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.fault)
        if not enabled:
            item.add_marker(pytest.mark.skip(reason=SKIP_DISABLED))
        elif not services:
            item.add_marker(pytest.mark.skip(reason=SKIP_NEEDS_SERVICES))


# --- the services -----------------------------------------------------------------------------------
def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _pg() -> tuple[str, str]:
    url = urlparse(os.environ["DATABASE_URL"])
    return url.hostname or "127.0.0.1", str(url.port or 5432)


def _cluster_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
    return versions[-1]


def pg_ready() -> bool:
    host, port = _pg()
    return _run(["pg_isready", "-h", host, "-p", port, "-q"], timeout=10).returncode == 0


def pg_ctl(action: str) -> None:
    """``pg_ctlcluster <version> main <action>`` (start, stop, restart) for the local cluster."""
    result = _run(["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main", action], timeout=90)
    if result.returncode != 0 and not (action == "start" and "already running" in result.stderr):
        raise RuntimeError(f"pg_ctlcluster {action} failed: {result.stderr.strip() or result.stdout.strip()}")


def wait_pg(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pg_ready():
        if time.monotonic() > deadline:
            raise RuntimeError(SERVICE_DOWN.format(service="PostgreSQL", timeout=timeout, detail="pg_isready"))
        time.sleep(0.2)


def ensure_pg() -> None:
    if not pg_ready():
        pg_ctl("start")
    wait_pg()


def _redis() -> tuple[str, str]:
    url = urlparse(os.environ["REDIS_URL"])
    return url.hostname or "127.0.0.1", str(url.port or 6379)


def redis_cli(*args: str) -> str:
    host, port = _redis()
    return _run(["redis-cli", "-h", host, "-p", port, *args], timeout=10).stdout.strip()


def redis_ready() -> bool:
    return redis_cli("ping") == "PONG"


def redis_start() -> None:
    host, port = _redis()
    result = _run(
        ["redis-server", "--daemonize", "yes", "--bind", host, "--port", port, "--save", "", "--appendonly", "no"]
    )
    if result.returncode != 0:
        raise RuntimeError(f"redis-server failed to start: {result.stderr.strip() or result.stdout.strip()}")


def wait_redis(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not redis_ready():
        if time.monotonic() > deadline:
            raise RuntimeError(SERVICE_DOWN.format(service="Redis", timeout=timeout, detail="redis-cli ping"))
        time.sleep(0.1)


def ensure_redis() -> None:
    if not redis_ready():
        redis_start()
    wait_redis()


def reconnect_database() -> None:
    """Drop this process's (now broken) database connections; the next query opens a fresh one."""
    for conn in connections.all():
        with contextlib.suppress(Exception):  # a connection to a restarted server may fail even to close
            conn.close()
        pool = getattr(conn, "pool", None)
        if pool is not None:
            pool.check()  # discard the pooled connections the restart killed


@pytest.fixture(autouse=True)
def services_left_running() -> Iterator[None]:
    """Whatever a test does to them, PostgreSQL and Redis are running (and answering) afterwards."""
    try:
        yield
    finally:
        ensure_pg()
        ensure_redis()
        reconnect_database()


@pytest.fixture
def fault_log(request: pytest.FixtureRequest) -> Any:
    """Counts of the faults a test injected, printed in the summary (``-rA``) and checked by the test."""
    injected: list[str] = []
    yield injected
    request.node.user_properties.append(("faults_injected", list(injected)))
