#!/usr/bin/env python
"""Run the studio locally: migrate, seed the demo, then the web server and a Celery worker together.

``make run`` calls this with the project's .venv Python. Ctrl-C (or SIGTERM) stops both processes;
if either one exits on its own, the other is stopped too and this script exits non-zero. The demo login
banner is printed once the web server answers its health check (/healthz), not before.

Embedded mode needs nothing installed: SQLite in var/, a local-memory cache and Celery's filesystem
broker in var/broker (set DATABASE_URL / REDIS_URL to use PostgreSQL / Redis instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 90.0  # how long the banner waits for the web server's first answer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address the web server binds (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="web server port (default 8000)")
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker threads (default 4)")
    parser.add_argument("--no-seed", action="store_true", help="skip manage.py seed_demo")
    parser.add_argument("--no-worker", action="store_true", help="start only the web server")
    return parser.parse_args(argv)


def development_env() -> dict[str, str]:
    env = dict(os.environ)
    # Like manage.py: a shell without SECRET_KEY is a local checkout, so development mode.
    if "SECRET_KEY" not in env:
        env.setdefault("DEBUG", "true")
    env.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env: dict[str, str], *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


def has_beat_schedule(env: dict[str, str]) -> bool:
    """Whether the Celery app defines periodic tasks (then the worker also runs beat)."""
    code = "import django; django.setup(); from studio.celery import app; print(len(app.conf.beat_schedule or {}))"
    result = subprocess.run([PYTHON, "-c", code], cwd=BASE_DIR, env=env, check=True, text=True, stdout=subprocess.PIPE)
    return int(result.stdout.strip().splitlines()[-1]) > 0


def login_banner(login: dict[str, object], url: str) -> str:
    line = "=" * 64
    return "\n".join(
        [
            line,
            f"  Multimodal Prompt Studio is running at {url}",
            f"  Log in with  {login['email']}  /  {login['password']}",
            "  Press Ctrl-C to stop the web server and the worker.",
            line,
        ]
    )


def health_url(host: str, port: int) -> str:
    """The health check URL on the address the web server binds (a wildcard address is reached locally)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect (e.g. to HTTPS) is an answer too; don't follow it


def wait_until_serving(
    url: str, processes: dict[str, subprocess.Popen[bytes]], timeout: float = READY_TIMEOUT, interval: float = 0.2
) -> bool:
    """Poll ``url`` until the web server answers: True once any HTTP response arrives (an error status
    still means it accepts connections); False when a process exits first or ``timeout`` seconds pass."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)  # local: no proxy
    deadline = time.monotonic() + timeout
    while True:
        if any(process.poll() is not None for process in processes.values()):
            return False
        try:
            with opener.open(url, timeout=max(0.5, min(5.0, deadline - time.monotonic()))):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Each child leads its own process group, so stopping it also stops what it spawned
    # (runserver's autoreloader runs the server in a child process).
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {STOP_TIMEOUT:.0f} s; killing it.", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Stop(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = development_env()
    url = f"http://{args.host}:{args.port}/"

    print("==> Applying migrations", flush=True)
    manage(env, "migrate", "--noinput")
    login: dict[str, object] | None = None
    if not args.no_seed:
        print("==> Seeding the demo workspace", flush=True)
        login = json.loads(manage(env, "seed_demo", "--json", capture=True).stdout.strip().splitlines()[-1])
        for module in login.get("seeded", []):
            print(f"    seeded {module}")

    commands = {"web": [PYTHON, "manage.py", "runserver", f"{args.host}:{args.port}"]}
    if not args.no_worker:
        worker = [PYTHON, "-m", "celery", "-A", "studio", "worker", "-P", "threads", "-c", str(args.concurrency)]
        worker += ["--loglevel", "INFO"]
        if has_beat_schedule(env):
            schedule = Path(env.get("STUDIO_VAR_DIR") or BASE_DIR / "var") / "celerybeat-schedule"
            schedule.parent.mkdir(parents=True, exist_ok=True)
            worker += ["--beat", "--schedule", str(schedule)]
        commands["worker"] = worker

    def on_signal(signum: int, frame: object) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    exit_code = 0
    try:
        for name, command in commands.items():
            print(f"==> Starting {name}: {' '.join(command[1:])}", flush=True)
            processes[name] = start(command, env)
        if login:
            # The banner says "open this URL", so it waits until the web server answers there.
            if wait_until_serving(health_url(args.host, args.port), processes):
                print("\n" + login_banner(login, url) + "\n", flush=True)
            elif all(process.poll() is None for process in processes.values()):
                print(
                    f"The web server has not answered within {READY_TIMEOUT:.0f} s; it may still be starting.",
                    file=sys.stderr,
                )
                print("\n" + login_banner(login, url) + "\n", flush=True)
        while True:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    print(f"\n{name} exited with code {code}; stopping the others.", file=sys.stderr, flush=True)
                    exit_code = code or 1
                    raise Stop
            time.sleep(0.5)
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("==> Stopping", ", ".join(processes) or "nothing", flush=True)
        stop(processes)
    return exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        print(f"{' '.join(map(str, error.cmd[1:]))} failed with exit code {error.returncode}.", file=sys.stderr)
        sys.exit(error.returncode or 1)
    except KeyboardInterrupt:
        sys.exit(130)
