from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership, User
from studio.models import HealthPing

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Any, team: Any) -> Any:
    root = User.objects.create_superuser(email="root@example.com", password="x-very-long-pass-1")
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", ["accounts_user", "accounts_workspace", "accounts_membership", "studio_healthping"])
def test_admin_changelists_load_with_search_and_filters(staff_client: Any, model: str) -> None:
    HealthPing.objects.create(token="abc", worker="w1")
    url = reverse(f"admin:{model}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "acme"}).status_code == 200


def test_admin_workspace_page_shows_members_inline(staff_client: Any, team: Any) -> None:
    response = staff_client.get(reverse("admin:accounts_workspace_change", args=[team.workspace.pk]))
    assert response.status_code == 200
    assert team.editor.email in response.content.decode() or str(team.editor.pk) in response.content.decode()


def test_admin_creates_a_user_by_email(staff_client: Any) -> None:
    response = staff_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New.Person@Example.com",
            "display_name": "New Person",
            "usable_password": "true",
            "password1": "a-long-enough-pass-99",
            "password2": "a-long-enough-pass-99",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password("a-long-enough-pass-99")


def test_admin_user_list_counts_workspaces(staff_client: Any, team: Any) -> None:
    Membership.objects.create(user=team.editor, workspace=team.other_workspace, role="viewer")
    response = staff_client.get(reverse("admin:accounts_user_changelist"), {"q": "editor@acme.test"})
    assert response.status_code == 200
    assert [u.pk for u in response.context["cl"].result_list] == [team.editor.pk]
    assert response.context["cl"].result_list[0]._workspace_count == 2
