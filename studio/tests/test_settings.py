"""The production settings: env helpers fail loudly, SECRET_KEY is required, check --deploy is clean."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

import studio.settings as production_settings
from studio.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION_SECRET = "production-like-secret-key-for-tests-" + "x7Qp2Lm9" * 4
# Variables the test settings put into this process's environment; a production process has none.
TEST_ONLY = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "EMAIL_BACKEND", "CELERY_", "PYTEST_", "STUDIO_TEST_RUN")
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "studio.settings",
    "DEBUG": "false",
    "SECRET_KEY": PRODUCTION_SECRET,
    "ALLOWED_HOSTS": "studio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
}


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(TEST_ONLY)
        and key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"}
    }
    env["STUDIO_VAR_DIR"] = str(tmp_path / "var")
    env["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def settings_in_subprocess(env: dict[str, str], *names: str) -> dict[str, object]:
    """Import studio.settings in a fresh process with ``env`` and return the named settings as JSON."""
    code = (
        "import json, studio.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}, default=str))"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_production_settings_refuse_to_start_without_secret_key(tmp_path: Path) -> None:
    result = run_python("import django; django.setup()", clean_env(tmp_path, DEBUG="false"))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_is_the_default_when_debug_is_unset(tmp_path: Path) -> None:
    result = run_python("import django; django.setup()", clean_env(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_with_production_env_prints_no_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=clean_env(tmp_path, **PRODUCTION_ENV),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_typo_in_a_boolean_stops_the_process_with_a_message(tmp_path: Path) -> None:
    result = run_python("import studio.settings", clean_env(tmp_path, **{**PRODUCTION_ENV, "DEBUG": "ture"}))
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_a_bad_integer_stops_the_process_with_a_message(tmp_path: Path) -> None:
    result = run_python("import studio.settings", clean_env(tmp_path, **PRODUCTION_ENV, JWT_ACCESS_MINUTES="15m"))
    assert result.returncode != 0
    assert "JWT_ACCESS_MINUTES='15m' is not an integer" in result.stderr


def test_env_bool_accepts_the_usual_spellings_and_rejects_others(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in [("true", True), ("1", True), ("YES", True), ("on", True), ("false", False), ("0", False)]:
        monkeypatch.setenv("STUDIO_FLAG", raw)
        assert env_bool("STUDIO_FLAG", not expected) is expected
    monkeypatch.delenv("STUDIO_FLAG")
    assert env_bool("STUDIO_FLAG", True) is True
    monkeypatch.setenv("STUDIO_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="STUDIO_FLAG='maybe' is not a boolean"):
        env_bool("STUDIO_FLAG", False)


def test_env_int_rejects_non_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_NUMBER", "42")
    assert env_int("STUDIO_NUMBER", 1) == 42
    monkeypatch.setenv("STUDIO_NUMBER", "4.2")
    with pytest.raises(ImproperlyConfigured, match=re.escape("STUDIO_NUMBER='4.2' is not an integer")):
        env_int("STUDIO_NUMBER", 1)


def test_env_str_without_default_requires_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="STUDIO_REQUIRED is required"):
        env_str("STUDIO_REQUIRED")
    monkeypatch.setenv("STUDIO_REQUIRED", "value")
    assert env_str("STUDIO_REQUIRED") == "value"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_HOSTS", " a.example.com, ,b.example.com ,")
    assert env_list("STUDIO_HOSTS") == ["a.example.com", "b.example.com"]


def test_bcrypt_sha256_is_the_first_password_hasher() -> None:
    assert production_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.BCryptSHA256PasswordHasher"


def test_jwt_lifetimes_default_to_15_minutes_and_7_days(tmp_path: Path) -> None:
    values = settings_in_subprocess(clean_env(tmp_path, **PRODUCTION_ENV), "SIMPLE_JWT")
    jwt = values["SIMPLE_JWT"]
    assert isinstance(jwt, dict)
    assert jwt["ACCESS_TOKEN_LIFETIME"] == "0:15:00"
    assert jwt["REFRESH_TOKEN_LIFETIME"] == "7 days, 0:00:00"


def test_jwt_lifetimes_come_from_the_environment(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **PRODUCTION_ENV, JWT_ACCESS_MINUTES="5", JWT_REFRESH_DAYS="2")
    jwt = settings_in_subprocess(env, "SIMPLE_JWT")["SIMPLE_JWT"]
    assert isinstance(jwt, dict)
    assert jwt["ACCESS_TOKEN_LIFETIME"] == "0:05:00"
    assert jwt["REFRESH_TOKEN_LIFETIME"] == "2 days, 0:00:00"


def test_without_redis_the_cache_is_local_memory_and_the_broker_needs_no_server(tmp_path: Path) -> None:
    values = settings_in_subprocess(
        clean_env(tmp_path, **PRODUCTION_ENV), "CACHES", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"
    )
    assert values["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")  # type: ignore[index]
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert isinstance(options, dict)
    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "var" / "broker" / "queue")
    assert Path(options["control_folder"]).is_dir()


def test_redis_url_selects_the_redis_cache_and_broker(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **PRODUCTION_ENV, REDIS_URL="redis://cache.internal:6379/3")
    values = settings_in_subprocess(env, "CACHES", "CELERY_BROKER_URL")
    assert values["CACHES"]["default"] == {  # type: ignore[index]
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/3",
    }
    assert values["CELERY_BROKER_URL"] == "redis://cache.internal:6379/3"


def test_default_database_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    database = settings_in_subprocess(clean_env(tmp_path, **PRODUCTION_ENV), "DATABASES")["DATABASES"]["default"]  # type: ignore[index]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "var" / "studio.sqlite3")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_postgres_url_uses_the_psycopg_pool(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **PRODUCTION_ENV, DATABASE_URL="postgres://studio:pw@db.internal:5432/studio")
    database = settings_in_subprocess(env, "DATABASES")["DATABASES"]["default"]  # type: ignore[index]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["HOST"] == "db.internal" and database["NAME"] == "studio"
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"]["max_size"] == 10


def test_production_defaults_are_secure(tmp_path: Path) -> None:
    values = settings_in_subprocess(
        clean_env(tmp_path, **PRODUCTION_ENV),
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "ALLOWED_HOSTS",
    )
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "ALLOWED_HOSTS": ["studio.example.com"],
    }


def test_debug_without_secret_key_uses_a_development_key_and_local_hosts(tmp_path: Path) -> None:
    values = settings_in_subprocess(clean_env(tmp_path, DEBUG="true"), "SECRET_KEY", "ALLOWED_HOSTS")
    assert str(values["SECRET_KEY"]).startswith("django-insecure-")
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
