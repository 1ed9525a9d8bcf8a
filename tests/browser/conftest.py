"""Browser tests: Playwright driving Debian's Chromium against pytest-django's ``live_server``.

Fixtures shared by every browser test:

* ``browser`` (session): one headless Chromium from /usr/bin/chromium; the tests are skipped, with
  the reason, when it is not installed.
* ``page`` (per test): a fresh context (cookies, storage) with ``base_url`` = the live server, so
  ``page.goto("/prompts/")`` works; console errors and CSP violations are collected in
  ``page.console_errors``.
* ``login(page, user)``: logs in through the real login form.
* ``shot(page, name)``: a screenshot of the viewport (``full_page=True`` for all of it) into /tmp/shots/ (look at them while developing).

``live_server`` makes the tests transactional (the server thread needs committed data). Playwright's
sync API runs an event loop in this thread, so Django's async-safety check is relaxed for these tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path("/tmp/shots")
VIEWPORT = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Chromium at {CHROMIUM} (Debian package 'chromium'); it is not installed.")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    settings.MEDIA_ROOT = str(Path(settings.MEDIA_ROOT) / "browser")
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.console_errors = errors
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def login(live_server: Any) -> Any:
    def do_login(page: Any, user: Any, password: str) -> None:
        page.goto(reverse("accounts:login"))
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return do_login


@pytest.fixture
def shot() -> Any:
    def take(page: Any, name: str, *, full_page: bool = False) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
