"""Security headers on every page: strict CSP, nosniff, referrer policy, no framing; HSTS in production; CORS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.security.crawl import crawl, csp_violations

pytestmark = pytest.mark.django_db

BASE_DIR = Path(django_settings.BASE_DIR)


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for chunk in header.split(";"):
        words = chunk.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_strict_headers(response: Any, where: str) -> None:
    csp = response.get("Content-Security-Policy")
    assert csp, f"no CSP on {where}"
    policy = directives(csp)
    assert policy["script-src"] == ["'self'"], where
    assert policy["style-src"] == ["'self'"], where
    assert policy["frame-ancestors"] == ["'none'"], where
    assert policy["object-src"] == ["'none'"], where
    assert policy["base-uri"] == ["'none'"], where
    assert policy["default-src"] == ["'self'"], where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") == "same-origin", where
    assert response.get("X-Frame-Options") == "DENY", where


def test_csp_parser_and_checker_catch_violations() -> None:
    assert directives("script-src 'self'; object-src 'none'") == {"script-src": ["'self'"], "object-src": ["'none'"]}
    assert csp_violations('<p style="color:red">x</p>')
    assert csp_violations("<script>alert(1)</script>")
    assert csp_violations('<img src=x onerror="alert(1)">')
    assert csp_violations("<style>p{}</style>")
    assert not csp_violations('<script src="/static/js/studio.js" defer></script><p data-style="x">ok</p>')


def test_anonymous_pages_carry_the_headers(client: Any) -> None:
    for url in (reverse("accounts:login"), reverse("accounts:signup"), "/no-such-page/"):
        assert_strict_headers(client.get(url), url)


def test_api_responses_carry_the_headers(client: Any, team: Any, api: Any) -> None:
    response = api(team.owner).get(reverse("api:workspace-list"))
    assert response.status_code == 200
    assert response.get("X-Content-Type-Options") == "nosniff"
    assert response.get("X-Frame-Options") == "DENY"


def test_every_page_reachable_from_the_sidebar_has_strict_headers_and_no_inline_code(client: Any, demo: Any) -> None:
    client.force_login(demo.user)
    result = crawl(client, "/", limit=150, depth=3)
    assert len(result.sidebar) >= 5, f"sidebar links: {result.sidebar}"
    assert not [url for url, status in result.statuses.items() if status >= 500], result.statuses
    broken = {url: status for url, status in result.statuses.items() if status == 404}
    assert not broken, f"links to missing pages: {broken}"
    for url in result.sidebar:
        assert url in result.pages, f"sidebar page {url} answered {result.statuses.get(url)}"
    problems = {}
    for url, response in result.pages.items():
        assert_strict_headers(response, url)
        found = csp_violations(response.content.decode())
        if found:
            problems[url] = found
    assert not problems, problems
    assert len(result.pages) >= 15, sorted(result.pages)


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="studio.example.com")
secure = client.get("/healthz", secure=True)
plain = client.get("/accounts/login/")
print(json.dumps({
    "hsts": secure.get("Strict-Transport-Security"),
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "session_secure": __import__("django.conf").conf.settings.SESSION_COOKIE_SECURE,
    "csrf_secure": __import__("django.conf").conf.settings.CSRF_COOKIE_SECURE,
}))
"""


def test_production_settings_send_hsts_and_redirect_to_https(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE", "DATABASE_URL", "REDIS_URL", "DEBUG"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        DEBUG="false",
        SECRET_KEY="production-probe-" + "x" * 50,
        ALLOWED_HOSTS="studio.example.com",
        STUDIO_VAR_DIR=str(tmp_path),
        PROVIDER_ENCRYPTION_KEYS="HdIh-vcErYU7klq7OuLphDhnLGk8fxFj_M7B6WYHAVs=",
    )
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert probe["plain_status"] == 301 and probe["plain_location"].startswith("https://studio.example.com/")
    assert probe["session_secure"] is True and probe["csrf_secure"] is True


def test_cors_answers_only_configured_origins(client: Any, settings: Any, team: Any, api: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    url = reverse("api:workspace-list")
    token_client = api(team.owner)
    allowed = token_client.get(url, HTTP_ORIGIN="https://app.example.com")
    assert allowed.get("Access-Control-Allow-Origin") == "https://app.example.com"
    other = token_client.get(url, HTTP_ORIGIN="https://evil.example.net")
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other
    preflight = client.options(url, HTTP_ORIGIN="https://evil.example.net", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in preflight
    preflight = client.options(url, HTTP_ORIGIN="https://app.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight.get("Access-Control-Allow-Origin") == "https://app.example.com"
    # pages are not shared cross-origin at all
    page = client.get(reverse("accounts:login"), HTTP_ORIGIN="https://app.example.com")
    assert "Access-Control-Allow-Origin" not in page


def test_no_origin_is_trusted_by_default() -> None:
    assert django_settings.CORS_ALLOWED_ORIGINS == [] or all(
        o.startswith("https://") for o in django_settings.CORS_ALLOWED_ORIGINS
    )
    assert not getattr(django_settings, "CORS_ALLOW_ALL_ORIGINS", False)
