from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Workspace
from accounts.services import CANNOT_DELETE_LAST_WORKSPACE, LAST_OWNER, NO_SUCH_USER, ONLY_OWNERS_MANAGE_OWNERS
from accounts.tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from accounts.views import MEMBER_INVITED, MEMBER_REMOVED, ROLE_CHANGED
from studio.permissions import SESSION_WORKSPACE_KEY

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _esc(text: str) -> str:
    return text.replace("'", "&#x27;").replace('"', "&quot;")


def _toast(response: Any) -> dict[str, str]:
    return json.loads(response["HX-Trigger"])["toast"]  # type: ignore[no-any-return]


def _role_url(team: Any, user: Any) -> str:
    return reverse("accounts:member-role", args=[team.workspace.pk, user.pk])


def _remove_url(team: Any, user: Any) -> str:
    return reverse("accounts:member-remove", args=[team.workspace.pk, user.pk])


def _settings(client: Any, team: Any, role: str) -> str:
    client.force_login(team.user(role))
    response = client.get(reverse("accounts:settings"))
    assert response.status_code == 200
    return response.content.decode()  # type: ignore[no-any-return]


# --- what each role sees --------------------------------------------------------------------


def test_owner_sees_every_control(client: Any, team: Any) -> None:
    html = _settings(client, team, "owner")
    assert reverse("accounts:workspace-rename", args=[team.workspace.pk]) in html
    assert reverse("accounts:member-invite", args=[team.workspace.pk]) in html
    for role in ("admin", "editor", "viewer"):
        assert _role_url(team, team.user(role)) in html
        assert _remove_url(team, team.user(role)) in html
    assert _role_url(team, team.owner) in html  # may step down when another owner exists
    assert _remove_url(team, team.owner) not in html  # leaving is a separate action
    assert '<option value="owner"' in html
    assert reverse("accounts:transfer", args=[team.workspace.pk]) in html
    assert reverse("accounts:workspace-delete", args=[team.workspace.pk]) in html
    assert reverse("accounts:leave", args=[team.workspace.pk]) in html


def test_admin_manages_members_but_not_the_owner(client: Any, team: Any) -> None:
    html = _settings(client, team, "admin")
    assert reverse("accounts:member-invite", args=[team.workspace.pk]) in html
    assert _role_url(team, team.editor) in html
    assert _remove_url(team, team.viewer) in html
    assert _role_url(team, team.owner) not in html
    assert _remove_url(team, team.owner) not in html
    assert '<option value="owner"' not in html
    assert reverse("accounts:transfer", args=[team.workspace.pk]) not in html
    assert reverse("accounts:workspace-delete", args=[team.workspace.pk]) not in html


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_see_the_members_read_only(client: Any, team: Any, role: str) -> None:
    html = _settings(client, team, role)
    for member in (team.owner, team.admin, team.editor, team.viewer):
        assert member.email in html
    assert "<select" not in html.split('id="members"')[1].split("</section>")[0]
    assert reverse("accounts:member-invite", args=[team.workspace.pk]) not in html
    assert reverse("accounts:workspace-rename", args=[team.workspace.pk]) not in html
    assert "/remove/" not in html
    assert "Only admins and owners can add, change or remove members." in html
    assert reverse("accounts:leave", args=[team.workspace.pk]) in html


def test_settings_show_the_current_workspace_only(client: Any, team: Any) -> None:
    html = _settings(client, team, "outsider")
    assert "Other Co" in html
    assert team.editor.email not in html


def test_settings_without_any_workspace_sends_you_to_create_one(client: Any, db: Any) -> None:
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:settings"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:workspace-create")


# --- rename ---------------------------------------------------------------------------------


def test_admin_renames_the_workspace(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(reverse("accounts:workspace-rename", args=[team.workspace.pk]), {"name": "Acme Labs"})
    assert response.status_code == 302
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Acme Labs"


def test_rename_to_blank_shows_the_error_in_the_page(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(reverse("accounts:workspace-rename", args=[team.workspace.pk]), {"name": ""})
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert "name" in response.context["rename_form"].errors


def test_editor_cannot_rename(client: Any, team: Any) -> None:
    client.force_login(team.editor)
    response = client.post(reverse("accounts:workspace-rename", args=[team.workspace.pk]), {"name": "Mine"})
    assert response.status_code == 403
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Acme"


# --- invite ---------------------------------------------------------------------------------


def test_admin_invites_an_existing_user_with_htmx(client: Any, team: Any) -> None:
    newcomer = UserFactory(email="new@acme.test")
    client.force_login(team.admin)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]),
        {"email": "New@Acme.test", "role": "editor"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="members"' in html
    assert "new@acme.test" in html
    assert _toast(response) == {
        "message": MEMBER_INVITED.format(email="new@acme.test", role="editor"),
        "level": "success",
    }
    assert Membership.objects.get(workspace=team.workspace, user=newcomer).role == Role.EDITOR


def test_invite_unknown_email_shows_error_next_to_field_and_keeps_it(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]),
        {"email": "ghost@nowhere.test", "role": "viewer"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert _esc(NO_SUCH_USER.format(email="ghost@nowhere.test")) in html
    assert 'value="ghost@nowhere.test"' in html
    assert "field-error" in html


def test_invite_without_htmx_renders_the_whole_page_on_error(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]), {"email": team.editor.email, "role": "viewer"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert "is already a member" in html


def test_admin_cannot_invite_an_owner(client: Any, team: Any) -> None:
    UserFactory(email="new@acme.test")
    client.force_login(team.admin)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]), {"email": "new@acme.test", "role": "owner"}, **HTMX
    )
    assert response.status_code == 200
    assert "role" in response.context["invite_form"].errors
    assert not Membership.objects.filter(user__email="new@acme.test").exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_invite(client: Any, team: Any, role: str) -> None:
    UserFactory(email="new@acme.test")
    client.force_login(team.user(role))
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]), {"email": "new@acme.test", "role": "viewer"}
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user__email="new@acme.test").exists()


def test_outsider_cannot_invite_into_another_workspace(client: Any, team: Any) -> None:
    client.force_login(team.outsider)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]), {"email": team.outsider.email, "role": "owner"}
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(workspace=team.workspace, user=team.outsider).exists()


# --- change role ----------------------------------------------------------------------------


def test_admin_changes_a_role_and_gets_the_row_back(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_role_url(team, team.viewer), {"role": "editor"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="member-{team.viewer.pk}"')
    assert '<option value="editor" selected>' in html
    assert _toast(response) == {
        "message": ROLE_CHANGED.format(name=team.viewer.name, role="editor"),
        "level": "success",
    }
    assert team.membership("viewer").role == Role.EDITOR


def test_role_change_without_htmx_redirects_with_a_message(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_role_url(team, team.viewer), {"role": "editor"})
    assert response.status_code == 302
    assert response.url == reverse("accounts:settings")
    page = client.get(response.url)
    assert _esc(ROLE_CHANGED.format(name=team.viewer.name, role="editor")) in page.content.decode()


def test_admin_cannot_make_someone_owner(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_role_url(team, team.editor), {"role": "owner"}, **HTMX)
    assert response.status_code == 200
    assert _toast(response) == {"message": ONLY_OWNERS_MANAGE_OWNERS, "level": "error"}
    assert team.membership("editor").role == Role.EDITOR


def test_admin_cannot_demote_the_owner(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_role_url(team, team.owner), {"role": "viewer"})
    page = client.get(response.url)
    assert _esc(ONLY_OWNERS_MANAGE_OWNERS) in page.content.decode()
    assert team.membership("owner").role == Role.OWNER


def test_last_owner_cannot_be_demoted(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(_role_url(team, team.owner), {"role": "admin"}, **HTMX)
    assert _toast(response) == {"message": LAST_OWNER, "level": "error"}
    assert '<option value="owner" selected>' in response.content.decode()
    assert team.membership("owner").role == Role.OWNER


def test_an_invalid_role_is_refused_with_a_message(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(_role_url(team, team.viewer), {"role": "superuser"}, **HTMX)
    assert _toast(response)["level"] == "error"
    assert team.membership("viewer").role == Role.VIEWER


def test_changing_your_own_role_reloads_the_page(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_role_url(team, team.admin), {"role": "editor"}, **HTMX)
    assert response["HX-Refresh"] == "true"
    assert team.membership("admin").role == Role.EDITOR


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_change_roles(client: Any, team: Any, role: str) -> None:
    client.force_login(team.user(role))
    response = client.post(_role_url(team, team.viewer), {"role": "admin"}, **HTMX)
    assert response.status_code == 403
    assert team.membership("viewer").role == Role.VIEWER


def test_outsider_gets_404_for_another_workspaces_member_ids(client: Any, team: Any) -> None:
    client.force_login(team.outsider)
    own = team.other_workspace.pk
    for url in (
        _role_url(team, team.viewer),
        _remove_url(team, team.viewer),
        reverse("accounts:member-role", args=[own, team.viewer.pk]),
        reverse("accounts:member-remove", args=[own, team.viewer.pk]),
        reverse("accounts:transfer", args=[team.workspace.pk]),
        reverse("accounts:leave", args=[team.workspace.pk]),
        reverse("accounts:workspace-delete", args=[team.workspace.pk]),
        reverse("accounts:workspace-rename", args=[team.workspace.pk]),
    ):
        response = client.post(url, {"role": "viewer", "user_id": team.viewer.pk, "name": "x"})
        assert response.status_code == 404, url
    response = client.post(reverse("accounts:transfer", args=[own]), {"user_id": team.viewer.pk})
    assert response.status_code == 404
    assert Membership.objects.filter(workspace=team.workspace).count() == 4
    assert team.membership("viewer").role == Role.VIEWER


# --- remove ---------------------------------------------------------------------------------


def test_admin_removes_a_member_with_htmx(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_remove_url(team, team.editor), **HTMX)
    assert response.status_code == 200
    assert response.content == b""
    assert _toast(response) == {"message": MEMBER_REMOVED.format(name=team.editor.name), "level": "success"}
    assert not Membership.objects.filter(workspace=team.workspace, user=team.editor).exists()


def test_admin_cannot_remove_the_owner(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(_remove_url(team, team.owner), **HTMX)
    assert _toast(response) == {"message": ONLY_OWNERS_MANAGE_OWNERS, "level": "error"}
    assert f'id="member-{team.owner.pk}"' in response.content.decode()
    assert Membership.objects.filter(workspace=team.workspace, user=team.owner).exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_remove_others(client: Any, team: Any, role: str) -> None:
    client.force_login(team.user(role))
    target = team.admin
    response = client.post(_remove_url(team, target))
    assert response.status_code == 403
    assert Membership.objects.filter(workspace=team.workspace, user=target).exists()


# --- transfer, leave, delete ----------------------------------------------------------------


def test_owner_transfers_ownership(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(reverse("accounts:transfer", args=[team.workspace.pk]), {"user_id": team.editor.pk})
    assert response.status_code == 302
    assert team.membership("editor").role == Role.OWNER
    assert team.membership("owner").role == Role.ADMIN


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_only_the_owner_can_transfer(client: Any, team: Any, role: str) -> None:
    client.force_login(team.user(role))
    response = client.post(reverse("accounts:transfer", args=[team.workspace.pk]), {"user_id": team.user(role).pk})
    assert response.status_code == 403
    assert team.membership("owner").role == Role.OWNER


def test_transfer_to_a_non_member_is_404(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(reverse("accounts:transfer", args=[team.workspace.pk]), {"user_id": team.outsider.pk})
    assert response.status_code == 404


def test_viewer_leaves_the_workspace(client: Any, team: Any) -> None:
    client.force_login(team.viewer)
    session = client.session
    session[SESSION_WORKSPACE_KEY] = team.workspace.pk
    session.save()
    response = client.post(reverse("accounts:leave", args=[team.workspace.pk]))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert not Membership.objects.filter(workspace=team.workspace, user=team.viewer).exists()
    assert SESSION_WORKSPACE_KEY not in client.session


def test_last_owner_cannot_leave_and_is_told_why(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(reverse("accounts:leave", args=[team.workspace.pk]))
    assert response.url == reverse("accounts:settings")
    page = client.get(response.url)
    assert _esc(LAST_OWNER) in page.content.decode()
    assert team.membership("owner").role == Role.OWNER


def test_owner_deletes_a_workspace(client: Any, team: Any) -> None:
    MembershipFactory(user=team.owner, workspace=WorkspaceFactory(name="Spare"), role=Role.OWNER)
    client.force_login(team.owner)
    response = client.post(reverse("accounts:workspace-delete", args=[team.workspace.pk]))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert not Workspace.objects.filter(pk=team.workspace.pk).exists()


def test_delete_confirmation_names_what_is_lost(client: Any, team: Any) -> None:
    html = _settings(client, team, "owner")
    form = html.split(reverse("accounts:workspace-delete", args=[team.workspace.pk]))[1]
    confirm = form.split('data-confirm="')[1].split('"')[0]
    assert "Acme is deleted with everything in it" in confirm
    assert "prompts" in confirm and "runs" in confirm
    assert "4 members lose access" in confirm


def test_owner_cannot_delete_their_only_workspace(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(reverse("accounts:workspace-delete", args=[team.workspace.pk]))
    page = client.get(response.url)
    assert _esc(CANNOT_DELETE_LAST_WORKSPACE) in page.content.decode()
    assert Workspace.objects.filter(pk=team.workspace.pk).exists()


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_only_the_owner_can_delete(client: Any, team: Any, role: str) -> None:
    client.force_login(team.user(role))
    response = client.post(reverse("accounts:workspace-delete", args=[team.workspace.pk]))
    assert response.status_code == 403
    assert Workspace.objects.filter(pk=team.workspace.pk).exists()


# --- fragments and full pages ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["accounts:member-role", "accounts:member-remove"])
def test_post_only_fragment_urls_opened_directly_redirect_to_the_page(client: Any, team: Any, name: str) -> None:
    client.force_login(team.admin)
    response = client.get(reverse(name, args=[team.workspace.pk, team.viewer.pk]))
    assert response.status_code == 302
    assert response.url == reverse("accounts:settings")


@pytest.mark.parametrize(
    "name",
    [
        "accounts:member-invite",
        "accounts:transfer",
        "accounts:leave",
        "accounts:workspace-delete",
        "accounts:workspace-rename",
    ],
)
def test_workspace_action_urls_opened_directly_redirect_to_the_page(client: Any, team: Any, name: str) -> None:
    client.force_login(team.admin)
    response = client.get(reverse(name, args=[team.workspace.pk]))
    assert response.status_code == 302
    assert response.url == reverse("accounts:settings")


def test_boosted_navigation_gets_the_whole_page(client: Any, team: Any) -> None:
    client.force_login(team.admin)
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]),
        {"email": "ghost@nowhere.test", "role": "viewer"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
    )
    assert "<html" in response.content.decode()


# --- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("members", [3, 30])
def test_settings_page_query_count_is_the_same_for_3_and_30_members(
    client: Any, db: Any, members: int, django_assert_num_queries: Any
) -> None:
    owner = MembershipFactory(role=Role.OWNER)
    for index in range(members - 1):
        MembershipFactory(workspace=owner.workspace, role=Role.ADMIN if index % 2 else Role.VIEWER)
    client.force_login(owner.user)
    # session, user, my memberships (switcher + current workspace), the members table
    with django_assert_num_queries(4):
        response = client.get(reverse("accounts:settings"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == members
    assert response.content.decode().count('<tr id="member-') == members
