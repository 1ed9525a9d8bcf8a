from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user
from django.test import override_settings
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.throttling import TOO_MANY_ATTEMPTS
from accounts.views import INVALID_LOGIN, LOGGED_OUT

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db: Any) -> User:
    return UserFactory(email="ada@example.com")


def _login(client: Any, password: str, **extra: Any) -> Any:
    return client.post(reverse("accounts:login"), {"email": "ada@example.com", "password": password}, **extra)


def test_login_page_renders(client: Any) -> None:
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_login_with_right_password_logs_in_and_goes_home(client: Any, ada: User) -> None:
    response = _login(client, PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert get_user(client).pk == ada.pk


def test_login_email_is_case_insensitive(client: Any, ada: User) -> None:
    response = client.post(reverse("accounts:login"), {"email": "ADA@Example.COM", "password": PASSWORD})
    assert response.status_code == 302
    assert get_user(client).pk == ada.pk


def test_login_follows_a_safe_next_and_ignores_an_unsafe_one(client: Any, ada: User) -> None:
    safe = client.post(
        reverse("accounts:login"), {"email": ada.email, "password": PASSWORD, "next": reverse("accounts:settings")}
    )
    assert safe.url == reverse("accounts:settings")
    client.logout()
    unsafe = client.post(
        reverse("accounts:login"), {"email": ada.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert unsafe.url == reverse("home")


def test_login_with_wrong_password_shows_a_clear_message_and_keeps_email(client: Any, ada: User) -> None:
    response = _login(client, "wrong-password")
    assert response.status_code == 200
    html = response.content.decode()
    assert INVALID_LOGIN.replace("'", "&#x27;") in html
    assert 'value="ada@example.com"' in html
    assert not get_user(client).is_authenticated


def test_inactive_user_cannot_log_in(client: Any, ada: User) -> None:
    ada.is_active = False
    ada.save()
    response = _login(client, PASSWORD)
    assert response.status_code == 200
    assert not get_user(client).is_authenticated


def test_21st_bad_login_in_a_minute_is_refused_with_429(client: Any, ada: User) -> None:
    for _ in range(20):
        assert _login(client, "wrong-password").status_code == 200
    response = _login(client, "wrong-password")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Too many attempts. Wait " in html
    # Even the right password is refused while the client is throttled.
    assert _login(client, PASSWORD).status_code == 429
    assert not get_user(client).is_authenticated


def test_throttle_counts_per_client_ip(client: Any, ada: User) -> None:
    for _ in range(20):
        _login(client, "wrong-password", REMOTE_ADDR="10.0.0.1")
    assert _login(client, "wrong-password", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert _login(client, PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_login_throttle_rate_comes_from_settings(client: Any, ada: User, settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        assert _login(client, "bad").status_code == 200
        assert _login(client, "bad").status_code == 200
        response = _login(client, "bad")
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 60
    expected = TOO_MANY_ATTEMPTS.format(seconds=seconds)
    assert expected in response.content.decode()


def test_successful_logins_are_not_counted(client: Any, ada: User) -> None:
    for _ in range(25):
        assert _login(client, PASSWORD).status_code == 302
        client.logout()


def test_logout_needs_post(client: Any, ada: User) -> None:
    client.force_login(ada)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert get_user(client).is_authenticated
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert not get_user(client).is_authenticated
    page = client.get(response.url)
    assert LOGGED_OUT.replace("'", "&#x27;") in page.content.decode()


def test_pages_need_login(client: Any) -> None:
    for name in ("home", "accounts:settings", "accounts:password-change", "accounts:workspace-create"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))
