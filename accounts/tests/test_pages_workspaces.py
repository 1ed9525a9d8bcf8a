from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Workspace
from accounts.views import WORKSPACE_CREATED
from studio.permissions import SESSION_WORKSPACE_KEY

pytestmark = pytest.mark.django_db


def test_switcher_lists_my_workspaces_with_roles(client: Any, team: Any) -> None:
    Membership.objects.create(user=team.editor, workspace=team.other_workspace, role=Role.VIEWER)
    client.force_login(team.editor)
    html = client.get(reverse("home")).content.decode()
    assert reverse("accounts:switch-workspace") in html
    assert f'name="workspace_id" value="{team.workspace.pk}"' in html
    assert f'name="workspace_id" value="{team.other_workspace.pk}"' in html
    assert "badge-role-viewer" in html


def test_switch_to_own_workspace_stores_it_and_goes_back(client: Any, team: Any) -> None:
    Membership.objects.create(user=team.editor, workspace=team.other_workspace, role=Role.VIEWER)
    client.force_login(team.editor)
    response = client.post(
        reverse("accounts:switch-workspace"),
        {"workspace_id": team.other_workspace.pk, "next": reverse("accounts:settings")},
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:settings")
    assert client.session[SESSION_WORKSPACE_KEY] == team.other_workspace.pk
    page = client.get(response.url)
    assert page.context["workspace"] == team.other_workspace


def test_switch_ignores_an_unsafe_next(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    response = client.post(
        reverse("accounts:switch-workspace"), {"workspace_id": team.workspace.pk, "next": "//evil.example/x"}
    )
    assert response.url == reverse("home")


def test_switch_to_a_workspace_i_am_not_in_is_404(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    response = client.post(reverse("accounts:switch-workspace"), {"workspace_id": team.other_workspace.pk})
    assert response.status_code == 404
    assert SESSION_WORKSPACE_KEY not in client.session


def test_switch_with_garbage_is_404_and_get_is_405(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    assert client.post(reverse("accounts:switch-workspace"), {"workspace_id": "abc"}).status_code == 404
    assert client.get(reverse("accounts:switch-workspace")).status_code == 405


def test_create_workspace_makes_me_owner_and_switches_to_it(client: Any, team: Any) -> None:
    client.force_login(team.viewer)
    assert client.get(reverse("accounts:workspace-create")).status_code == 200
    response = client.post(reverse("accounts:workspace-create"), {"name": "  Side project  "})
    assert response.status_code == 302
    assert response.url == reverse("accounts:settings")
    workspace = Workspace.objects.get(name="Side project")
    assert Membership.objects.get(workspace=workspace, user=team.viewer).role == Role.OWNER
    assert client.session[SESSION_WORKSPACE_KEY] == workspace.pk
    page = client.get(response.url)
    assert WORKSPACE_CREATED.format(workspace="Side project").replace("'", "&#x27;") in page.content.decode()


def test_create_workspace_without_a_name_shows_error(client: Any, team: Any) -> None:
    client.force_login(team.viewer)
    response = client.post(reverse("accounts:workspace-create"), {"name": "   "})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert Workspace.objects.count() == 2
