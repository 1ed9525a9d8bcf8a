"""Settings for the studio, read from environment variables (see README "Configuration").

Production is the default: DEBUG is off and SECRET_KEY is required. ``make run`` and the test
suite set DEBUG or a SECRET_KEY themselves.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from studio.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDIO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "django-insecure-local-development-key-not-for-production")
else:
    SECRET_KEY = env_str("SECRET_KEY", "")
    if not SECRET_KEY:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production settings (DEBUG off) refuse to start without it: "
            "set SECRET_KEY to a long random string, or set DEBUG=true for local development."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "corsheaders",
    "csp",
    "studio",
    "accounts",
    "prompts",
    "templates_app",
    "providers",
    "abtests",
    "analytics",
    "exports",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'studio.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # psycopg 3's connection pool; Django requires CONN_MAX_AGE = 0 with it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10), "timeout": 10}
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "studio"}}
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = Path(env_str("CELERY_FILESYSTEM_BROKER_DIR", str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings (remote control, broadcast); kombu's default is ./control in the cwd.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu looks for new messages once a second by default: a test's chunks would wait for it
        "polling_interval": 0.1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Periodic tasks (the worker runs beat when this is not empty; see scripts/run.py).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # A/B test engine: release expired leases, re-enqueue stalled cells, finish done tests.
    "abtests-sweep": {"task": "abtests.sweep", "schedule": float(env_int("ABTEST_SWEEP_SECONDS", 30))},
    # Analytics: daily rollups through yesterday (idempotent) and budget alerts (once per threshold a month).
    "analytics-rollups": {
        "task": "analytics.refresh_rollups",
        "schedule": float(env_int("ANALYTICS_ROLLUP_SECONDS", 900)),
    },
    "analytics-budgets": {
        "task": "analytics.check_budgets",
        "schedule": float(env_int("ANALYTICS_BUDGET_SECONDS", 300)),
    },
    # Providers: Runs a dead web worker left "running" become errors of kind "interrupted".
    "providers-sweep-stale-runs": {
        "task": "providers.sweep_stale_runs",
        "schedule": float(env_int("RUN_SWEEP_SECONDS", 300)),
    },
}

# --- A/B test run engine (abtests.engine) ----------------------------------------------------
ABTEST_CHUNK_SIZE = env_int("ABTEST_CHUNK_SIZE", 500)  # most cells per Celery task
ABTEST_PARALLEL_CHUNKS = env_int("ABTEST_PARALLEL_CHUNKS", 2)  # chunks of one test run at once, sharing its concurrency
ABTEST_LEASE_SECONDS = env_int("ABTEST_LEASE_SECONDS", 300)  # a claimed cell is stale after this
ABTEST_STALL_SECONDS = env_int("ABTEST_STALL_SECONDS", 120)  # no progress this long: re-enqueue
ABTEST_MAX_ATTEMPTS = env_int("ABTEST_MAX_ATTEMPTS", 3)  # tries for a cell with a retryable error
ABTEST_MAX_RATE_LIMIT_RETRIES = env_int("ABTEST_MAX_RATE_LIMIT_RETRIES", 30)
ABTEST_MAX_CELLS = env_int("ABTEST_MAX_CELLS", 100_000)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API ------------------------------------------------------------------------------------
THROTTLE_LOGIN_RATE = env_str("THROTTLE_LOGIN_RATE", "20/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The API takes JSON (nested content, lists, nulls); the upload endpoints set multipart themselves.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "studio.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "studio.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": THROTTLE_LOGIN_RATE,
        "register": env_str("THROTTLE_REGISTER_RATE", "10/min"),
        # Provider calls (/api/testing/run/) and uploads/imports, per user (studio.throttling).
        "run": env_str("THROTTLE_RUN_RATE", "60/min"),
        "upload": env_str("THROTTLE_UPLOAD_RATE", "30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
SPECTACULAR_SETTINGS = {
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    "TITLE": "Multimodal Prompt Studio API",
    "DESCRIPTION": "Prompts, versions, templates, providers, A/B tests, analytics and exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ABTestStatusEnum": "abtests.models.TestStatus",
        "CredentialProviderEnum": "providers.models.CREDENTIAL_PROVIDERS",
        "ProviderEnum": "providers.models.Provider",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "studio.openapi.add_error_responses",
        "studio.openapi.add_request_rules",
    ],
}

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploaded prompt assets (prompts.assets): limits per kind, checked on the real content.
ASSET_MAX_IMAGE_BYTES = env_int("ASSET_MAX_IMAGE_BYTES", 20 * 1024 * 1024)
ASSET_MAX_AUDIO_BYTES = env_int("ASSET_MAX_AUDIO_BYTES", 25 * 1024 * 1024)
ASSET_MAX_DOCUMENT_BYTES = env_int("ASSET_MAX_DOCUMENT_BYTES", 32 * 1024 * 1024)
ASSET_MAX_IMAGE_PIXELS = env_int("ASSET_MAX_IMAGE_PIXELS", 50_000_000)
ASSET_THUMBNAIL_SIZE = env_int("ASSET_THUMBNAIL_SIZE", 320)
WHITENOISE_USE_FINDERS = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------------
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Health checks from inside the container/host (docker-compose, load balancers) speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Providers (LLM calls) -------------------------------------------------------------------
# Fernet keys for provider credentials, comma-separated, newest first (see providers/crypto.py).
# Unset with DEBUG on: a local key file var/provider.key is created on first use.
PROVIDER_ENCRYPTION_KEYS = env_list("PROVIDER_ENCRYPTION_KEYS")
PROVIDER_KEY_FILE = Path(env_str("PROVIDER_KEY_FILE", str(VAR_DIR / "provider.key")))
PROVIDER_KEY_FILE_ALLOWED = env_bool("PROVIDER_KEY_FILE_ALLOWED", DEBUG)
# Hosts (or host:port) the outbound address policy lets through although they are private/loopback,
# e.g. "localhost:11434,127.0.0.1" for a local Ollama.
OUTBOUND_ALLOW_HOSTS = env_list("OUTBOUND_ALLOW_HOSTS")
# Operator-level base URLs (trusted, not policy-checked); empty = the SDK's default endpoint.
PROVIDER_BASE_URLS = {
    "openai": env_str("OPENAI_BASE_URL", "") or None,
    "anthropic": env_str("ANTHROPIC_BASE_URL", "") or None,
    "mistral": env_str("MISTRAL_BASE_URL", "") or None,
}
PROVIDER_TIMEOUT_SECONDS = float(env_int("PROVIDER_TIMEOUT_SECONDS", 120))
# A Run still "running" after this long was interrupted (0 = provider timeout x attempts + 300 s).
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 0)
PROVIDER_MAX_RETRIES = env_int("PROVIDER_MAX_RETRIES", 2)
PROVIDER_RETRY_INITIAL_MS = env_int("PROVIDER_RETRY_INITIAL_MS", 500)
PROVIDER_RETRY_MAX_ELAPSED_MS = env_int("PROVIDER_RETRY_MAX_ELAPSED_MS", 30_000)
# Provider calls one workspace may have in flight at once, across all processes (0 = no cap).
WORKSPACE_MAX_CONCURRENT_CALLS = env_int("WORKSPACE_MAX_CONCURRENT_CALLS", 64)
MEDIA_FETCH_MAX_BYTES = env_int("MEDIA_FETCH_MAX_BYTES", 20 * 1024 * 1024)

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "studio@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
