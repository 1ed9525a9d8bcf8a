from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user
from django.urls import reverse

from accounts.forms import PASSWORDS_DIFFER
from accounts.models import Membership, Role, User
from accounts.services import EMAIL_TAKEN
from accounts.tests.factories import UserFactory
from studio.permissions import SESSION_WORKSPACE_KEY

pytestmark = pytest.mark.django_db

GOOD = {
    "email": "Ada@Example.com",
    "display_name": "Ada Lovelace",
    "password1": "analytical-engine-42",
    "password2": "analytical-engine-42",
}


def test_signup_page_renders(client: Any) -> None:
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password2"' in response.content


def test_signup_creates_user_and_personal_owner_workspace_and_logs_in(client: Any) -> None:
    response = client.post(reverse("accounts:signup"), GOOD)
    assert response.status_code == 302
    assert response.url == reverse("home")
    user = User.objects.get(email="ada@example.com")
    assert user.display_name == "Ada Lovelace"
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.workspace.personal is True
    assert get_user(client).pk == user.pk
    assert client.session[SESSION_WORKSPACE_KEY] == membership.workspace_id
    home = client.get(reverse("home"))
    assert "Welcome, Ada Lovelace!" in home.content.decode()


def test_signup_with_taken_email_shows_error_next_to_email_and_keeps_it(client: Any) -> None:
    UserFactory(email="ada@example.com")
    response = client.post(reverse("accounts:signup"), GOOD)
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [EMAIL_TAKEN]
    html = response.content.decode()
    assert 'value="Ada@Example.com"' in html
    assert "field-error" in html
    assert User.objects.filter(email="ada@example.com").count() == 1


def test_signup_with_weak_password_shows_error_under_password(client: Any) -> None:
    data = {**GOOD, "password1": "12345678", "password2": "12345678"}
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors["password1"]
    assert any("too common" in e or "entirely numeric" in e for e in errors)
    assert 'value="Ada@Example.com"' in response.content.decode()
    assert not User.objects.exists()


def test_signup_with_mismatched_passwords_says_so(client: Any) -> None:
    data = {**GOOD, "password2": "something-else-99"}
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == [PASSWORDS_DIFFER]
    assert PASSWORDS_DIFFER.replace("'", "&#x27;") in response.content.decode()
    assert 'value="Ada Lovelace"' in response.content.decode()
    assert not User.objects.exists()


def test_signed_in_user_is_sent_home_from_signup(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 302
    assert response.url == reverse("home")
