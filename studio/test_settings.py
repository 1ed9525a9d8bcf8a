"""Settings for the test suite: the real settings with test-only defaults.

DATABASE_URL and REDIS_URL still come from the environment, so the same suite runs on SQLite
(default) and on PostgreSQL + Redis (.ci/run).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-secret-key-only-for-the-test-suite-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("CELERY_FILESYSTEM_BROKER_DIR", os.path.join("var", "test", "broker"))
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")

from studio.settings import *  # noqa: F403
from studio.settings import CACHES, DATABASES, STORAGES, VAR_DIR

# A run id shared by the xdist controller and its workers keeps concurrent test runs apart.
_run = os.environ.setdefault("STUDIO_TEST_RUN", str(os.getpid()))
_worker = f"{_run}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"

# Fast hashing in tests; production keeps BCryptSHA256 first (tests check studio.settings).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file-backed SQLite test database so that a real Celery worker process can share it.
(VAR_DIR / "test").mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test" / f"test-{_worker}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_studio_{_worker}".replace("-", "_")}

# Keep parallel test workers' cache keys (and throttle counters) apart on a shared Redis.
CACHES["default"]["KEY_PREFIX"] = f"test-{_worker}"

STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# A worker process started by studio.testing.start_worker shares its test process's media folder.
MEDIA_ROOT = Path(os.environ.get("STUDIO_TEST_MEDIA_ROOT") or VAR_DIR / "test" / f"media-{_worker}")
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Provider credentials: a fixed test-only Fernet key (never used outside the test suite).
PROVIDER_ENCRYPTION_KEYS = ["HdIh-vcErYU7klq7OuLphDhnLGk8fxFj_M7B6WYHAVs="]
PROVIDER_KEY_FILE_ALLOWED = False
