"""Role matrix for every workspace and membership action of the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Workspace
from accounts.services import LAST_OWNER, ONLY_OWNERS_MANAGE_OWNERS
from accounts.tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from conftest import Team

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "editor", "viewer", "outsider"]


def _expect(actor: str, allowed: set[str], ok: int) -> int:
    if actor == "outsider":
        return 404
    return ok if actor in allowed else 403


def _target(team: Team, role: str = Role.VIEWER) -> Membership:
    return MembershipFactory(workspace=team.workspace, role=role, user__email=f"target-{role}@acme.test")


@pytest.mark.parametrize("actor", ROLES)
def test_workspace_detail(team: Team, api: Any, actor: str) -> None:
    response = api(team.user(actor)).get(reverse("api:workspace-detail", args=[team.workspace.id]))
    assert response.status_code == _expect(actor, {"owner", "admin", "editor", "viewer"}, 200)
    if response.status_code == 200:
        assert response.json()["role"] == actor


@pytest.mark.parametrize("actor", ROLES)
def test_workspace_rename(team: Team, api: Any, actor: str) -> None:
    response = api(team.user(actor)).patch(
        reverse("api:workspace-detail", args=[team.workspace.id]), {"name": "Renamed"}, format="json"
    )
    assert response.status_code == _expect(actor, {"owner", "admin"}, 200)
    team.workspace.refresh_from_db()
    assert (team.workspace.name == "Renamed") == (response.status_code == 200)


@pytest.mark.parametrize("actor", ROLES)
def test_workspace_delete(team: Team, api: Any, actor: str) -> None:
    # Give everyone a second workspace so deleting this one is not "your only workspace".
    for role in ROLES:
        MembershipFactory(user=team.user(role), workspace=WorkspaceFactory(), role=Role.OWNER)
    response = api(team.user(actor)).delete(reverse("api:workspace-detail", args=[team.workspace.id]))
    assert response.status_code == _expect(actor, {"owner"}, 204)
    assert Workspace.objects.filter(pk=team.workspace.pk).exists() == (response.status_code != 204)


def test_owner_deletes_a_workspace_with_ab_tests(team: Team, api: Any) -> None:
    """Variants and snapshots PROTECT prompt versions and datasets; the workspace still goes, whole."""
    from abtests.models import ABTest, Variant
    from abtests.services import abtest_start
    from abtests.tests.factories import make_test
    from prompts.models import PromptVersion

    MembershipFactory(user=team.owner, workspace=WorkspaceFactory(), role=Role.OWNER)
    make_test(team.workspace, rows=2)
    started = make_test(team.workspace, rows=2, name="started")
    abtest_start(test=started, enqueue=False)  # snapshot + trials
    response = api(team.owner).delete(reverse("api:workspace-detail", args=[team.workspace.id]))
    assert response.status_code == 204
    assert not Workspace.objects.filter(pk=team.workspace.pk).exists()
    assert not ABTest.objects.exists() and not Variant.objects.exists()
    assert not PromptVersion.objects.filter(prompt__workspace_id=team.workspace.pk).exists()


def test_workspace_patch_without_a_name_changes_nothing(team: Team, api: Any) -> None:
    response = api(team.owner).patch(reverse("api:workspace-detail", args=[team.workspace.id]), {}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == team.workspace.name


def test_workspace_name_must_be_a_string(team: Team, api: Any) -> None:
    response = api(team.owner).post(reverse("api:workspace-list"), {"name": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert not Workspace.objects.filter(name="0").exists()


def test_owner_cannot_delete_their_only_workspace(team: Team, api: Any) -> None:
    response = api(team.owner).delete(reverse("api:workspace-detail", args=[team.workspace.id]))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "only workspace" in response.json()["detail"]
    assert Workspace.objects.filter(pk=team.workspace.pk).exists()


@pytest.mark.parametrize("actor", ROLES)
def test_member_list(team: Team, api: Any, actor: str, django_assert_num_queries: Any) -> None:
    client = api(team.user(actor))
    response = client.get(reverse("api:member-list", args=[team.workspace.id]))
    assert response.status_code == _expect(actor, {"owner", "admin", "editor", "viewer"}, 200)
    if response.status_code == 200:
        assert {m["email"] for m in response.json()} == {f"{r}@acme.test" for r in ROLES[:4]}


@pytest.mark.parametrize("actor", ROLES)
def test_member_invite(team: Team, api: Any, actor: str) -> None:
    invitee = UserFactory(email="new@example.com")
    response = api(team.user(actor)).post(
        reverse("api:member-list", args=[team.workspace.id]),
        {"email": "NEW@example.com", "role": "editor"},
        format="json",
    )
    assert response.status_code == _expect(actor, {"owner", "admin"}, 201)
    created = Membership.objects.filter(workspace=team.workspace, user=invitee)
    assert created.exists() == (response.status_code == 201)
    if response.status_code == 201:
        assert created.get().role == Role.EDITOR


def test_invite_unknown_email_is_a_404_and_existing_member_a_409(team: Team, api: Any) -> None:
    client = api(team.admin)
    url = reverse("api:member-list", args=[team.workspace.id])
    unknown = client.post(url, {"email": "nobody@example.com", "role": "viewer"}, format="json")
    assert unknown.status_code == 404
    assert "nobody@example.com" in unknown.json()["detail"]
    existing = client.post(url, {"email": team.viewer.email, "role": "viewer"}, format="json")
    assert existing.status_code == 409
    assert "already a member" in existing.json()["detail"]
    bad_role = client.post(url, {"email": team.outsider.email, "role": "emperor"}, format="json")
    assert bad_role.status_code == 400
    assert bad_role.json()["detail"].startswith("role:")


def test_admin_cannot_invite_an_owner(team: Team, api: Any) -> None:
    UserFactory(email="new@example.com")
    response = api(team.admin).post(
        reverse("api:member-list", args=[team.workspace.id]),
        {"email": "new@example.com", "role": "owner"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"role: {ONLY_OWNERS_MANAGE_OWNERS}"


@pytest.mark.parametrize("actor", ROLES)
def test_member_change_role(team: Team, api: Any, actor: str) -> None:
    target = _target(team)
    response = api(team.user(actor)).patch(
        reverse("api:member-detail", args=[team.workspace.id, target.user_id]), {"role": "editor"}, format="json"
    )
    assert response.status_code == _expect(actor, {"owner", "admin"}, 200)
    target.refresh_from_db()
    assert (target.role == Role.EDITOR) == (response.status_code == 200)


@pytest.mark.parametrize("actor", ROLES)
def test_member_remove(team: Team, api: Any, actor: str) -> None:
    target = _target(team)
    response = api(team.user(actor)).delete(reverse("api:member-detail", args=[team.workspace.id, target.user_id]))
    assert response.status_code == _expect(actor, {"owner", "admin"}, 204)
    assert Membership.objects.filter(pk=target.pk).exists() == (response.status_code != 204)


@pytest.mark.parametrize("actor", ["admin", "editor", "viewer"])
def test_any_member_but_the_last_owner_can_leave(team: Team, api: Any, actor: str) -> None:
    user = team.user(actor)
    response = api(user).delete(reverse("api:member-detail", args=[team.workspace.id, user.id]))
    assert response.status_code == 204
    assert not Membership.objects.filter(workspace=team.workspace, user=user).exists()


def test_last_owner_cannot_leave_or_be_demoted(team: Team, api: Any) -> None:
    client = api(team.owner)
    url = reverse("api:member-detail", args=[team.workspace.id, team.owner.id])
    leave = client.delete(url)
    assert leave.status_code == 409
    assert leave.json()["detail"] == LAST_OWNER
    demote = client.patch(url, {"role": "admin"}, format="json")
    assert demote.status_code == 409
    assert demote.json()["detail"] == f"role: {LAST_OWNER}"
    assert team.membership("owner").role == Role.OWNER


def test_second_owner_makes_leaving_possible(team: Team, api: Any) -> None:
    client = api(team.owner)
    promote = client.patch(
        reverse("api:member-detail", args=[team.workspace.id, team.admin.id]), {"role": "owner"}, format="json"
    )
    assert promote.status_code == 200
    leave = client.delete(reverse("api:member-detail", args=[team.workspace.id, team.owner.id]))
    assert leave.status_code == 204


@pytest.mark.parametrize("change", [{"role": "viewer"}, None])
def test_admin_cannot_demote_or_remove_an_owner(team: Team, api: Any, change: dict[str, str] | None) -> None:
    client = api(team.admin)
    url = reverse("api:member-detail", args=[team.workspace.id, team.owner.id])
    response = client.patch(url, change, format="json") if change else client.delete(url)
    assert response.status_code == 400
    assert ONLY_OWNERS_MANAGE_OWNERS in response.json()["detail"]
    assert team.membership("owner").role == Role.OWNER


@pytest.mark.parametrize("actor", ROLES)
def test_transfer_ownership(team: Team, api: Any, actor: str) -> None:
    response = api(team.user(actor)).post(
        reverse("api:workspace-transfer", args=[team.workspace.id]), {"user_id": team.editor.id}, format="json"
    )
    assert response.status_code == _expect(actor, {"owner"}, 200)
    if response.status_code == 200:
        assert team.membership("editor").role == Role.OWNER
        assert team.membership("owner").role == Role.ADMIN
    else:
        assert team.membership("owner").role == Role.OWNER


def test_transfer_to_a_non_member_is_404(team: Team, api: Any) -> None:
    response = api(team.owner).post(
        reverse("api:workspace-transfer", args=[team.workspace.id]), {"user_id": team.outsider.id}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["owner", "admin", "editor", "viewer"])
def test_members_cannot_reach_another_workspace_on_any_endpoint(team: Team, api: Any, role: str) -> None:
    client = api(team.user(role))
    other, stranger = team.other_workspace.id, team.outsider.id
    calls = [
        client.get(reverse("api:workspace-detail", args=[other])),
        client.patch(reverse("api:workspace-detail", args=[other]), {"name": "x"}, format="json"),
        client.delete(reverse("api:workspace-detail", args=[other])),
        client.get(reverse("api:member-list", args=[other])),
        client.post(reverse("api:member-list", args=[other]), {"email": team.owner.email}, format="json"),
        client.patch(reverse("api:member-detail", args=[other, stranger]), {"role": "viewer"}, format="json"),
        client.delete(reverse("api:member-detail", args=[other, stranger])),
        client.post(reverse("api:workspace-transfer", args=[other]), {"user_id": stranger}, format="json"),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls)
    assert Membership.objects.get(user=team.outsider).role == Role.OWNER


def test_member_ids_of_another_workspace_are_404_inside_your_own(team: Team, api: Any) -> None:
    response = api(team.owner).patch(
        reverse("api:member-detail", args=[team.workspace.id, team.outsider.id]), {"role": "viewer"}, format="json"
    )
    assert response.status_code == 404


def test_anonymous_is_401_everywhere(team: Team, api: Any) -> None:
    client = api(None)
    assert client.get(reverse("api:workspace-list")).status_code == 401
    assert client.get(reverse("api:member-list", args=[team.workspace.id])).status_code == 401


def test_workspace_list_and_create(team: Team, api: Any) -> None:
    client = api(team.viewer)
    created = client.post(reverse("api:workspace-list"), {"name": "Side project"}, format="json")
    assert created.status_code == 201
    assert created.json()["role"] == "owner"
    listed = client.get(reverse("api:workspace-list")).json()
    assert {(w["name"], w["role"]) for w in listed} == {("Acme", "viewer"), ("Side project", "owner")}
    blank = client.post(reverse("api:workspace-list"), {"name": "  "}, format="json")
    assert blank.status_code == 400


@pytest.mark.parametrize("count", [3, 30])
def test_member_list_query_count_is_constant(team: Team, api: Any, count: int, django_assert_num_queries: Any) -> None:
    for _ in range(count):
        MembershipFactory(workspace=team.workspace, role=Role.VIEWER)
    client = api(team.owner)
    url = reverse("api:member-list", args=[team.workspace.id])
    # user (JWT) + memberships of the user + members with their users
    with django_assert_num_queries(3):
        response = client.get(url)
    assert len(response.json()) == count + 4


@pytest.mark.parametrize("count", [2, 20])
def test_workspace_list_query_count_is_constant(api: Any, count: int, django_assert_num_queries: Any) -> None:
    user = UserFactory()
    for _ in range(count):
        MembershipFactory(user=user, role=Role.EDITOR)
    client = api(user)
    # user (JWT) + the user's memberships with their workspaces
    with django_assert_num_queries(2):
        response = client.get(reverse("api:workspace-list"))
    assert len(response.json()) == count
