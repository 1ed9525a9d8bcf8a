"""``make run`` (scripts/run.py) end to end, in the embedded mode a fresh clone gets.

Starts the script on a free port with an empty var/ folder, reads the printed demo login, logs in
through the log-in page, has the worker execute a task, then stops everything with SIGINT (Ctrl-C).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
STRIPPED = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "EMAIL_BACKEND", "CELERY_", "PYTEST_", "DJANGO_")

pytestmark = [pytest.mark.slow, pytest.mark.worker]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(STRIPPED)
        and key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "DEMO_PASSWORD"}
    }
    env["STUDIO_VAR_DIR"] = str(var_dir)
    return env


def _wait_for_output(log: Path, pattern: str, process: subprocess.Popen[bytes], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        assert process.poll() is None, f"scripts/run.py exited early:\n{log.read_text(errors='replace')}"
        time.sleep(0.3)
    raise AssertionError(f"{pattern!r} never appeared in the output:\n{log.read_text(errors='replace')}")


def test_make_run_serves_the_login_page_and_the_printed_demo_login_works(tmp_path: Path) -> None:
    port = _free_port()
    env = _embedded_env(tmp_path / "var")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "scripts/run.py", "--port", str(port), "--concurrency", "2"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        login = _wait_for_output(log, r"Log in with\s+(\S+@\S+)\s+/\s+(\S+)", process, timeout=240)
        email, password = login.group(1), login.group(2)
        _wait_for_output(log, r"celery@\S+ ready\.", process, timeout=120)
        if getattr(settings, "CELERY_BEAT_SCHEDULE", None):
            # Periodic tasks exist, so the worker runs beat too.
            _wait_for_output(log, r"beat: Starting", process, timeout=60)
        base = f"http://127.0.0.1:{port}"

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 60
        while True:
            try:
                page = opener.open(f"{base}/accounts/login/", timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.5)
        assert page.status == 200
        assert 'name="password"' in page.read().decode()
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        form = urllib.parse.urlencode({"email": email, "password": password, "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/"})
        home = opener.open(request, timeout=30)
        assert home.status == 200
        assert urllib.parse.urlparse(home.url).path == "/", "the demo login did not get past the log-in page"
        assert any(cookie.name == "sessionid" for cookie in jar)

        # The worker that make run started executes tasks sent through the filesystem broker.
        token = uuid.uuid4().hex
        manage_env = {**env, "DEBUG": "true"}
        send = f"from studio.tasks import ping; ping.delay({token!r})"
        subprocess.run([sys.executable, "manage.py", "shell", "-c", send], cwd=BASE_DIR, env=manage_env, check=True)
        check = f"from studio.models import HealthPing; print(HealthPing.objects.filter(token={token!r}).exists())"
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", check],
                cwd=BASE_DIR,
                env=manage_env,
                capture_output=True,
                text=True,
                check=True,
            )
            if result.stdout.strip().endswith("True"):
                break
            assert time.monotonic() < deadline, f"the worker never ran the ping:\n{log.read_text(errors='replace')}"
            time.sleep(1)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert "==> Stopping web, worker" in output
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web server still listens after Ctrl-C"
