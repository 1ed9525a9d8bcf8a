"""docker-compose.yml and the Dockerfile name things that exist in the project.

Docker can't run here, so these tests read the files and check each service's command against the
code: the gunicorn config and its WSGI app, the Celery app and its sub-commands, manage.py
commands, health checks, and the environment the services get.
"""

from __future__ import annotations

import importlib
import os
import re
import runpy
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

BASE_DIR = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = [name for name, service in SERVICES.items() if "build" in service]


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return dockerfile_cmd()
    return command if isinstance(command, list) else shlex.split(command)


def dockerfile_cmd() -> list[str]:
    text = (BASE_DIR / "Dockerfile").read_text()
    match = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, "The Dockerfile has no exec-form CMD."
    return yaml.safe_load(match.group(1))


def option(command: list[str], *names: str) -> str:
    for index, part in enumerate(command):
        if part in names:
            return command[index + 1]
    raise AssertionError(f"{names} not in {command}")


def test_compose_has_web_worker_migrate_database_and_redis() -> None:
    assert {"web", "worker", "migrate", "db", "redis"} <= set(SERVICES)
    assert SERVICES["db"]["image"].startswith("postgres:15")
    assert SERVICES["redis"]["image"].startswith("redis:")


@pytest.mark.parametrize("name", ["db", "redis", "web"])
def test_service_has_a_healthcheck(name: str) -> None:
    healthcheck = SERVICES[name].get("healthcheck")
    assert healthcheck and healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
    assert healthcheck.get("interval") and healthcheck.get("retries")


def test_database_and_redis_keep_their_data_in_volumes() -> None:
    volumes = set(COMPOSE["volumes"])
    for name in ("db", "redis"):
        mounted = {entry.split(":", 1)[0] for entry in SERVICES[name]["volumes"]}
        assert mounted & volumes, f"{name} has no named volume"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_command_exists_in_the_project(name: str) -> None:
    command = command_of(SERVICES[name])
    program = command[0]
    if program == "gunicorn":
        config_path = BASE_DIR / option(command, "-c", "--config")
        assert config_path.is_file()
        config = runpy.run_path(str(config_path))
        assert config["worker_class"] == "gthread"
        module_name, attribute = config["wsgi_app"].split(":")
        assert module_name == settings.WSGI_APPLICATION.rsplit(".", 1)[0]
        assert importlib.util.find_spec(module_name) is not None
        assert attribute == settings.WSGI_APPLICATION.rsplit(".", 1)[1]
    elif program == "celery":
        from celery import Celery
        from celery.bin.celery import celery as celery_cli

        module = importlib.import_module(f"{option(command, '-A', '--app')}.celery")
        assert isinstance(module.app, Celery)
        subcommand = next(part for part in command[1:] if part in celery_cli.commands)
        assert subcommand in {"worker", "beat"}
    elif program == "python":
        assert command[1] == "manage.py" and (BASE_DIR / "manage.py").is_file()
        assert command[2] in get_commands(), f"manage.py has no command {command[2]!r}"
    else:
        raise AssertionError(f"{name}: unexpected program {program!r}")


def test_the_worker_service_runs_a_celery_worker_on_the_studio_app() -> None:
    command = command_of(SERVICES["worker"])
    assert command[:4] == ["celery", "-A", "studio", "worker"]


def test_app_services_take_the_secret_key_from_the_environment_and_use_postgres_and_redis() -> None:
    for name in APP_SERVICES:
        env = SERVICES[name]["environment"]
        for secret in ("SECRET_KEY", "PROVIDER_ENCRYPTION_KEYS"):
            assert env[secret].startswith(f"${{{secret}:?"), f"{name}: {secret} must be required from the environment"
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
        assert env["DEBUG"] == "false"
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")


def test_app_services_wait_for_healthy_database_and_redis() -> None:
    for name in APP_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert SERVICES["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_environment_names_only_variables_the_settings_read() -> None:
    readme = (BASE_DIR / "README.md").read_text()
    for name in APP_SERVICES:
        for variable in SERVICES[name]["environment"]:
            assert f"`{variable}`" in readme, f"{variable} (docker-compose.yml) is not in the README's table"


def test_dockerfile_builds_a_slim_non_root_image_with_static_files() -> None:
    text = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    assert "pip install -r requirements.txt" in text
    assert "collectstatic --noinput" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert dockerfile_cmd() == ["gunicorn", "-c", "studio/gunicorn.conf.py"]


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env"} <= ignored


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_serves_the_web_healthcheck_with_production_settings(tmp_path: Path) -> None:
    """Start gunicorn with studio/gunicorn.conf.py and run the compose file's web health check."""
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_", "DJANGO_", "PYTEST_", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        DEBUG="false",
        SECRET_KEY="gunicorn-test-" + "k" * 50,
        ALLOWED_HOSTS="studio.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STUDIO_VAR_DIR=str(tmp_path),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    healthcheck = SERVICES["web"]["healthcheck"]["test"]
    assert healthcheck[:3] == ["CMD", "python", "-c"]
    probe = healthcheck[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert probe != healthcheck[3], "the health check no longer targets 127.0.0.1:8000"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "studio/gunicorn.conf.py"],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # generous: a loaded 2-core machine starts gunicorn slowly
        while True:
            result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
            if result.returncode == 0:
                break
            assert web.poll() is None, web.stdout.read().decode() if web.stdout else "gunicorn exited"
            assert time.monotonic() < deadline, result.stderr
            time.sleep(0.3)
    finally:
        web.terminate()
        web.wait(timeout=30)
    assert resolve("/healthz").url_name == "healthz"
