"""Test helpers that start real processes: a Celery worker on the test database.

``start_worker()`` runs ``python -m celery -A studio worker`` as a subprocess that sees the same
database (the test database the current test uses), the same media folder and the same broker as
the test process, and consumes a queue of its own. While it runs, tasks sent from the test process
(``task.delay()``, ``apply_async()``, or a service that enqueues work) go to that queue, so the
worker picks them up and no other test's worker does.

Use it with pytest-django's ``transactional_db`` (rows written inside an open test transaction are
invisible to another process)::

    @pytest.mark.worker
    def test_something(transactional_db):
        with start_worker() as worker:
            ping.delay("abc")
            wait_for(lambda: HealthPing.objects.filter(token="abc").exists())
            worker.kill()  # SIGKILL, e.g. to test recovery from a lost worker

Broker: with REDIS_URL set, the worker uses the same Redis; otherwise the filesystem transport in a
fresh folder for this worker, and the test process's Celery app is pointed at that folder for as
long as the worker runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from studio.celery import app as celery_app

WORKER_NOT_READY = "The Celery worker did not report ready within {timeout:.0f} s. Its log:\n{log}"
WORKER_EXITED = "The Celery worker exited with code {code} before it was ready. Its log:\n{log}"
CONDITION_TIMEOUT = "Waited {timeout:.0f} s and the condition never became true: {description}"


def database_url_for_current_connection() -> str:
    """A DATABASE_URL for the database this process is connected to (the test database in tests)."""
    conf = connection.settings_dict
    engine = conf["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(conf["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("An in-memory SQLite database can't be shared with a worker process.")
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        user = quote(conf.get("USER") or "", safe="")
        password = quote(conf.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = conf.get("HOST") or "localhost"
        if "/" in host:  # a Unix socket directory
            host_part, query = "", f"?host={quote(host, safe='')}"
        else:
            host_part, query = host, ""
        port = f":{conf['PORT']}" if conf.get("PORT") else ""
        return f"postgres://{auth}{host_part}{port}/{quote(conf['NAME'], safe='')}{query}"
    raise RuntimeError(f"start_worker() does not know how to share a {engine} database.")


@dataclass
class WorkerProcess:
    """A running ``celery worker`` subprocess."""

    process: subprocess.Popen[bytes]
    queue: str
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker logs that it is ready to consume its queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if not self.alive:
                raise RuntimeError(WORKER_EXITED.format(code=self.process.returncode, log=self.log()))
            time.sleep(0.1)
        raise RuntimeError(WORKER_NOT_READY.format(timeout=timeout, log=self.log()))

    def kill(self) -> None:
        """SIGKILL: the worker dies at once, with tasks in flight (no warm shutdown)."""
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL if it has not exited after ``timeout`` s."""
        if not self.alive:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


@contextlib.contextmanager
def _sender_routed_to(queue: str, transport_options: dict[str, Any] | None) -> Iterator[None]:
    """Point this process's Celery app at ``queue`` (and a broker folder) for the duration."""
    conf = celery_app.conf
    saved_queue = conf.task_default_queue
    saved_options = conf.broker_transport_options

    def reset_pools() -> None:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.task_default_queue = queue
    if transport_options is not None:
        conf.broker_transport_options = transport_options
        reset_pools()
    try:
        yield
    finally:
        conf.task_default_queue = saved_queue
        if transport_options is not None:
            conf.broker_transport_options = saved_options
            reset_pools()


@contextlib.contextmanager
def start_worker(
    *,
    queue: str | None = None,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
    wait: bool = True,
) -> Iterator[WorkerProcess]:
    """Run a Celery worker process on the current test database; stop it on exit.

    ``queue`` defaults to a fresh unique name. ``extra_env`` adds or overrides environment
    variables of the worker (settings changed with pytest's ``settings`` fixture do not reach
    another process; pass what the worker needs here). With ``wait`` the context is entered only
    once the worker is ready.
    """
    queue = queue or f"test-{uuid.uuid4().hex[:12]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"celery-{queue}-", dir=_scratch_dir()))
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_for_current_connection()
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env["STUDIO_TEST_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)  # studio.test_settings sets its own MEDIA_ROOT
    env.setdefault("DJANGO_SETTINGS_MODULE", "studio.test_settings")
    env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    transport_options: dict[str, Any] | None = None
    if not settings.REDIS_URL:
        broker_dir = workdir / "broker"
        for sub in ("queue", "processed", "control"):
            (broker_dir / sub).mkdir(parents=True)
        env["CELERY_FILESYSTEM_BROKER_DIR"] = str(broker_dir)
        transport_options = {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
        }
    env.update(extra_env or {})
    log_path = workdir / "worker.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "studio",
        "worker",
        "-P",
        "threads",
        "-c",
        str(concurrency),
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process=process, queue=queue, log_path=log_path, env=env)
    try:
        with _sender_routed_to(queue, transport_options):
            if wait:
                worker.wait_ready(ready_timeout)
            yield worker
    finally:
        worker.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1, description: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(CONDITION_TIMEOUT.format(timeout=timeout, description=description or condition))
        time.sleep(interval)


def _scratch_dir() -> Path:
    path = Path(settings.VAR_DIR) / "test" / "workers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def clear_test_cache() -> None:
    """Empty this test process's cache without touching anyone else's.

    On Redis, ``cache.clear()`` is FLUSHDB: it would wipe the keys of parallel test processes
    (throttle counters mid-test) and the Celery messages on the same database. Delete only the
    keys under this process's KEY_PREFIX instead.
    """
    from django.core.cache import cache

    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        cache.clear()
        return
    prefix = config.get("KEY_PREFIX", "")
    if not prefix:
        raise RuntimeError("Refusing to clear a shared Redis cache: the test settings set no KEY_PREFIX.")
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
