from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_home_shows_the_current_workspace_in_the_layout(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="page-title">Acme</h1>' in html
    assert 'hx-boost="true"' in html
    assert '"X-CSRFToken"' in html
    assert 'name="htmx-config"' in html
    assert 'id="toasts"' in html and 'aria-live="polite"' in html
    assert 'id="confirm-dialog"' in html
    assert reverse("accounts:settings") in html
    assert reverse("accounts:logout") in html


def test_home_lists_the_areas_in_the_navigation(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    response = client.get(reverse("home"))
    for item in response.context["nav_items"]:
        assert f'href="{item["url"]}"' in response.content.decode()


def test_admins_get_an_invite_action_viewers_do_not(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    assert "Invite teammates" in client.get(reverse("home")).content.decode()
    client.force_login(team.viewer)
    assert "Invite teammates" not in client.get(reverse("home")).content.decode()


def test_home_without_a_workspace_offers_to_create_one(client: Any, db: Any) -> None:
    user = UserFactory()
    assert not Membership.objects.filter(user=user).exists()
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()
    assert "not in a workspace" in html.replace("&#x27;", "'")
    assert reverse("accounts:workspace-create") in html


def test_home_needs_login(client: Any) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next=/"
