"""SIGKILL a gunicorn worker (not the master) while it streams a playground answer.

The client sees the stream end without its ``end`` event; the Run the dead worker was writing is left
"running" (no process is left to finish it) until the stale-run sweep (``providers.sweep_stale_runs``,
Celery beat) marks it as an error of kind "interrupted" with a message that says what happened. The
master starts a new worker, and the next stream completes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings

from prompts.services import prompt_create
from providers import services
from providers.models import Run, RunStatus
from providers.tasks import sweep_stale_runs
from providers.tests.conftest import add_credential
from studio.testing import database_url_for_current_connection, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

WORDS = " ".join(f"word{i}" for i in range(80))
CONTENT = {
    "messages": [{"role": "user", "content": [{"type": "text", "text": f"Repeat after me: {WORDS}"}]}],
    "variables": [],
    "model": {"provider": "openai", "name": "gpt-4o-mini", "max_tokens": 400},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def workers(self) -> list[int]:
        """The master's worker processes (its children)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        return [int(c) for c in children]


@pytest.fixture
def gunicorn(providers_on_fake: Any, tmp_path: Path) -> Iterator[Gunicorn]:
    """The studio under gunicorn (studio/gunicorn.conf.py, one gthread worker) on this test's database."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.test_settings",
        "DATABASE_URL": database_url_for_current_connection(),
        "STUDIO_TEST_MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
        "OPENAI_BASE_URL": providers_on_fake.base_url("openai"),
        "PROVIDER_MAX_RETRIES": "0",
        "PROVIDER_TIMEOUT_SECONDS": "10",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "studio/gunicorn.conf.py"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process=process, base=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        wait_for(lambda: _healthy(server), timeout=30, description=f"gunicorn answers /healthz\n{server.log()}")
        yield server
    finally:
        for signum, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, signum)
                process.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


def _healthy(server: Gunicorn) -> bool:
    try:
        return requests.get(server.base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _login(base: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(base + "/accounts/login/", timeout=10)
    response = session.post(
        base + "/accounts/login/",
        data={"email": email, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": base + "/accounts/login/"},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def _open_stream(session: requests.Session, base: str, prompt_id: int) -> requests.Response:
    body = {"prompt": prompt_id, "version": "", "variables": {}, "targets": [{"model": "openai:gpt-4o-mini"}]}
    response = session.post(
        base + "/providers/playground/stream/",
        data=json.dumps(body),
        headers={
            "X-CSRFToken": session.cookies["csrftoken"],
            "Referer": base + "/providers/playground/",
            "Content-Type": "application/json",
        },
        stream=True,
        timeout=30,
    )
    assert response.status_code == 200, response.text[:500]
    return response


def _events(response: requests.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    for raw in response.iter_lines():
        line = raw.decode()
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def test_killing_a_gunicorn_worker_mid_stream_ends_the_stream_and_the_sweep_marks_the_run_interrupted(
    team: Any, providers_on_fake: Any, gunicorn: Gunicorn, settings: Any, fault_log: list[str]
) -> None:
    providers_on_fake.chunk_delay_ms = 100  # about 8 s of streaming: the kill lands mid-answer
    add_credential(team.workspace, "openai")
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="Long answer", content=CONTENT)
    session = _login(gunicorn.base, team.editor.email, team.password)
    [worker_pid] = gunicorn.workers()

    seen: list[str] = []
    run_id = None
    ended_by = "the server closed the stream"
    response = _open_stream(session, gunicorn.base, prompt.pk)
    started = time.monotonic()
    try:
        for event, data in _events(response):
            seen.append(event)
            if event == "run":
                run_id = data["run_id"]
            if event == "delta" and seen.count("delta") == 3:
                os.kill(worker_pid, signal.SIGKILL)  # the worker, not the master
                fault_log.append("gunicorn worker SIGKILL")
    except requests.RequestException as exc:  # a reset or a truncated chunked body
        ended_by = type(exc).__name__
    took = time.monotonic() - started

    assert fault_log == ["gunicorn worker SIGKILL"], seen
    assert "end" not in seen and "done" not in seen, (ended_by, seen)
    assert took < 8, f"the client waited {took:.1f} s for a stream whose server was dead"
    assert run_id is not None
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.RUNNING  # no process is left to finish it: the fault is real

    # The beat's stale-run sweep: once a Run is older than the limit, it is an interrupted error.
    settings.RUN_STALE_SECONDS = 1
    time.sleep(1.2)
    assert sweep_stale_runs.apply().get() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.ERROR
    assert run.error_kind == services.INTERRUPTED_KIND
    assert run.error_message == services.INTERRUPTED
    assert not Run.objects.filter(status=RunStatus.RUNNING).exists()

    # The master replaced the worker; the next stream completes and its Run is recorded as ok.
    wait_for(lambda: gunicorn.workers() and gunicorn.workers() != [worker_pid], timeout=30)
    wait_for(lambda: _healthy(gunicorn), timeout=30, description=f"gunicorn answers again\n{gunicorn.log()}")
    providers_on_fake.chunk_delay_ms = 0
    events = list(_events(_open_stream(session, gunicorn.base, prompt.pk)))
    assert [e for e, _ in events][-2:] == ["done", "end"], events[-3:]
    assert Run.objects.get(pk=events[-1][1]["run_ids"][0]).status == RunStatus.OK
