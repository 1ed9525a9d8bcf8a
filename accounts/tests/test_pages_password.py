from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD
from accounts.views import PASSWORD_CHANGED

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-7"


def test_password_change_page_renders_in_the_layout(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.get(reverse("accounts:password-change"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="old_password"' in html
    assert 'class="sidebar"' in html


def test_password_change_keeps_the_session_and_sets_the_new_password(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 302
    assert get_user(client).is_authenticated
    user.refresh_from_db()
    assert user.check_password(NEW)
    page = client.get(response.url)
    assert PASSWORD_CHANGED in page.content.decode()


def test_password_change_with_wrong_old_password_shows_error_and_changes_nothing(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": "not-my-password", "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    assert "field-error" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_rejects_weak_new_password(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
