"""``make run`` (scripts/run.py) end to end, in the embedded mode a fresh clone gets.

Starts the script on a free port with an empty var/ folder, reads the printed demo login (printed only
once the web server answers, so the log-in page opens at the first try), logs in through the log-in page,
has the worker execute a task, then stops everything with SIGINT (Ctrl-C). Faster tests cover the
script's wait for the web server on its own.
"""

from __future__ import annotations

import http.cookiejar
import http.server
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
STRIPPED = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "EMAIL_BACKEND", "CELERY_", "PYTEST_", "DJANGO_")


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


def _load_run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("studio_run_script", BASE_DIR / "scripts" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_script = _load_run_script()


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        if self.status in (301, 302):
            self.send_header("Location", "https://127.0.0.1:1/")  # never followed
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve_later(port: int, delay: float, status: int = 200) -> list[float]:
    """An HTTP server on ``port`` that starts listening after ``delay`` seconds (for 10 s); records when."""
    started: list[float] = []
    handler = type("Handler", (_Answer,), {"status": status})

    def run() -> None:
        time.sleep(delay)
        with http.server.HTTPServer(("127.0.0.1", port), handler) as server:
            started.append(time.monotonic())
            server.timeout = 0.2
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                server.handle_request()

    threading.Thread(target=run, daemon=True).start()
    return started


@pytest.fixture
def running() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """A stand-in for the web and worker processes: one that keeps running."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield {"web": process}
    finally:
        process.kill()
        process.wait()


def test_the_banner_waits_until_the_web_server_answers(running: dict[str, subprocess.Popen[bytes]]) -> None:
    port = _free_port()
    started = _serve_later(port, delay=1.5)
    assert run_script.wait_until_serving(run_script.health_url("127.0.0.1", port), running, timeout=20)
    assert started, "returned before the server listened"


@pytest.mark.parametrize("status", [301, 500])
def test_any_http_answer_counts_as_serving(running: dict[str, subprocess.Popen[bytes]], status: int) -> None:
    port = _free_port()
    _serve_later(port, delay=0, status=status)
    begin = time.monotonic()
    assert run_script.wait_until_serving(run_script.health_url("127.0.0.1", port), running, timeout=20)
    assert time.monotonic() - begin < 10


def test_waiting_gives_up_after_the_timeout(running: dict[str, subprocess.Popen[bytes]]) -> None:
    begin = time.monotonic()
    assert not run_script.wait_until_serving(run_script.health_url("127.0.0.1", _free_port()), running, timeout=1)
    assert 1 <= time.monotonic() - begin < 6


def test_waiting_stops_when_a_process_exits() -> None:
    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    exited.wait()
    begin = time.monotonic()
    url = run_script.health_url("127.0.0.1", _free_port())
    assert not run_script.wait_until_serving(url, {"web": exited}, timeout=30)
    assert time.monotonic() - begin < 5


def test_health_url_reaches_a_wildcard_address_locally() -> None:
    assert run_script.health_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/healthz"
    assert run_script.health_url("0.0.0.0", 8001) == "http://127.0.0.1:8001/healthz"
    assert run_script.health_url("::", 8002) == "http://[::1]:8002/healthz"


@pytest.mark.slow
@pytest.mark.worker
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
        base = f"http://127.0.0.1:{port}"

        # The banner comes once the web server answers: the log-in page opens at the first try.
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        try:
            page = opener.open(f"{base}/accounts/login/", timeout=10)
        except OSError as error:
            raise AssertionError(f"the banner came before the server answered ({error}):\n{log.read_text()}") from None
        assert page.status == 200
        assert 'name="password"' in page.read().decode()
        output = log.read_text(errors="replace")
        # the banner waited on the health check (runserver logs a request after answering it, so its
        # log line may land after the banner: the login page opening at the first try is the order check)
        assert "GET /healthz" in output and "Log in with" in output, output
        _wait_for_output(log, r"celery@\S+ ready\.", process, timeout=120)
        if getattr(settings, "CELERY_BEAT_SCHEDULE", None):
            # Periodic tasks exist, so the worker runs beat too.
            _wait_for_output(log, r"beat: Starting", process, timeout=60)
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
