"""Every audited action leaves one event naming who, where, what and from which address."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts import services as accounts_services
from accounts.tests.factories import UserFactory, WorkspaceFactory
from audit.models import AuditEvent
from prompts.services import prompt_create, version_create
from prompts.tests.factories import text_document
from templates_app.tests.factories import TemplateFactory

pytestmark = pytest.mark.django_db

UA = "audit-test-agent/1.0"


def only(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, f"{action}: {len(events)} events"
    return events[0]


# --- accounts --------------------------------------------------------------------------------


def test_invite_role_change_and_removal_are_logged_with_the_actor_and_request(team: Any, client: Any) -> None:
    newcomer = UserFactory(email="new@acme.test")
    client.force_login(team.admin)
    ws = team.workspace.pk
    client.post(
        reverse("accounts:member-invite", args=[ws]),
        {"email": "new@acme.test", "role": "viewer"},
        HTTP_USER_AGENT=UA,
        REMOTE_ADDR="203.0.113.9",
    )
    client.post(reverse("accounts:member-role", args=[ws, newcomer.pk]), {"role": "editor"})
    client.post(reverse("accounts:member-remove", args=[ws, newcomer.pk]))

    invited = only("member.invited")
    assert (invited.actor_id, invited.workspace_id, invited.target_id) == (team.admin.pk, ws, str(newcomer.pk))
    assert invited.details == {"email": "new@acme.test", "role": "viewer"}
    assert (invited.ip, invited.user_agent) == ("203.0.113.9", UA)
    assert only("member.role_changed").details == {"email": "new@acme.test", "from": "viewer", "to": "editor"}
    assert only("member.removed").details == {"email": "new@acme.test", "role": "editor"}


def test_a_refused_change_leaves_no_event(team: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the service's own refusal
        accounts_services.member_change_role(
            actor=team.membership("admin"), member=team.membership("owner"), role="viewer"
        )
    assert not AuditEvent.objects.exists()


def test_same_role_is_not_a_change(team: Any) -> None:
    accounts_services.member_change_role(
        actor=team.membership("admin"), member=team.membership("viewer"), role="viewer"
    )
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()


def test_leaving_transfer_rename_and_workspace_delete_are_logged(team: Any) -> None:
    accounts_services.member_remove(actor=team.membership("viewer"), member=team.membership("viewer"))
    assert only("member.left").actor_id == team.viewer.pk
    accounts_services.ownership_transfer(actor=team.membership("owner"), member=team.membership("admin"))
    transfer = only("workspace.ownership_transferred")
    assert transfer.details == {"from": team.owner.email, "to": team.admin.email}
    accounts_services.workspace_update(workspace=team.workspace, name="Acme Labs")
    assert only("workspace.renamed").details == {"from": "Acme", "to": "Acme Labs"}
    WorkspaceFactory()  # the actor needs another workspace to delete this one
    accounts_services.workspace_create(user=team.admin, name="Spare")
    workspace_id = team.workspace.pk
    accounts_services.workspace_delete(workspace=team.workspace, actor=team.admin)
    deleted = only("workspace.deleted")
    assert (deleted.workspace_id, deleted.workspace_name, deleted.actor_id) == (
        workspace_id,
        "Acme Labs",
        team.admin.pk,
    )
    # the workspace's earlier events are still there
    assert AuditEvent.objects.filter(workspace_id=workspace_id).count() == 4


# --- log-ins ---------------------------------------------------------------------------------


def test_page_login_and_failed_login_are_logged(team: Any, client: Any) -> None:
    url = reverse("accounts:login")
    client.post(url, {"email": team.viewer.email, "password": "wrong-password"}, HTTP_USER_AGENT=UA)
    client.post(url, {"email": "nobody@nowhere.test", "password": "wrong-password"})
    client.post(url, {"email": team.viewer.email, "password": team.password})
    failed = list(AuditEvent.objects.filter(action="auth.login_failed").order_by("id"))
    assert [f.details["email"] for f in failed] == [team.viewer.email, "nobody@nowhere.test"]
    assert failed[0].target_id == str(team.viewer.pk) and failed[0].actor_id is None
    assert failed[0].user_agent == UA and failed[0].ip == "127.0.0.1"
    assert failed[1].target_id == ""
    assert "wrong-password" not in str(failed[0].details)
    login = only("auth.login")
    assert (login.actor_id, login.details) == (team.viewer.pk, {"method": "session"})


def test_token_login_and_failed_token_login_are_logged(team: Any, api: Any) -> None:
    url = reverse("api:token")
    assert api(None).post(url, {"email": team.editor.email, "password": "nope"}, format="json").status_code == 401
    assert (
        api(None).post(url, {"email": team.editor.email, "password": team.password}, format="json").status_code == 200
    )
    assert only("auth.login_failed").target_id == str(team.editor.pk)
    login = only("auth.login")
    assert (login.actor_id, login.details) == (team.editor.pk, {"method": "jwt"})


# --- providers, prompts, templates -------------------------------------------------------------


def test_credential_add_replace_delete_are_logged_without_the_key(team: Any, api: Any) -> None:
    secret = "sk-ant-test-0123456789abcdefabcd"
    client = api(team.admin)
    created = client.post(
        reverse("api:provider-credentials"),
        {"workspace": team.workspace.pk, "provider": "anthropic", "api_key": secret, "label": "main"},
        format="json",
    ).json()
    detail = reverse("api:provider-credential-detail", args=[created["id"]])
    client.put(detail, {"api_key": secret + "WXYZ"}, format="json")
    client.delete(detail)
    events = list(AuditEvent.objects.filter(action__startswith="credential.").order_by("id"))
    assert [e.action for e in events] == ["credential.added", "credential.replaced", "credential.deleted"]
    assert [e.details["last4"] for e in events] == ["abcd", "WXYZ", "WXYZ"]
    assert {e.actor_id for e in events} == {team.admin.pk}
    for event in events:
        assert secret[:-4] not in f"{event.details} {event.target_repr}"


def test_label_moves_label_delete_and_prompt_delete_are_logged(team: Any, api: Any) -> None:
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="Captioner")
    for n in (1, 2):
        version_create(prompt=prompt, user=team.editor, content=text_document(f"v{n}"))
    client = api(team.editor)
    url = reverse("api:label-detail", args=[prompt.pk, "production"])
    client.put(url, {"version": 1}, format="json")
    client.put(url, {"version": 2}, format="json")
    client.put(url, {"version": 2}, format="json")  # not a move
    client.delete(url)
    moves = list(AuditEvent.objects.filter(action="label.moved").order_by("id"))
    assert [m.details for m in moves] == [
        {"label": "production", "from": None, "to": 1},
        {"label": "production", "from": 1, "to": 2},
    ]
    assert only("label.deleted").details == {"label": "production", "from": 2}
    assert api(team.admin).delete(reverse("api:prompt-detail", args=[prompt.pk])).status_code == 204
    deleted = only("prompt.deleted")
    assert (deleted.actor_id, deleted.target_repr, deleted.details["versions"]) == (team.admin.pk, str(prompt), 2)


def test_template_delete_is_logged(team: Any, api: Any) -> None:
    template = TemplateFactory(workspace=team.workspace, name="Receipt reader")
    assert api(team.admin).delete(reverse("api:template-detail", args=[template.pk])).status_code == 204
    event = only("template.deleted")
    assert (event.actor_id, event.workspace_id, event.target_repr) == (team.admin.pk, team.workspace.pk, str(template))


# --- datasets, A/B tests, imports ---------------------------------------------------------------


def test_dataset_and_abtest_deletes_are_logged(team: Any, api: Any) -> None:
    from abtests.tests.factories import make_test

    test = make_test(team.workspace, rows=1, name="Old test")
    dataset = test.dataset
    assert api(team.admin).delete(reverse("api:test-detail", args=[test.pk])).status_code == 204
    assert api(team.admin).delete(reverse("api:dataset-detail", args=[dataset.pk])).status_code == 204
    assert (only("abtest.deleted").actor_id, only("abtest.deleted").target_repr) == (team.admin.pk, str(test))
    assert only("dataset.deleted").target_id == str(dataset.pk)


def test_an_applied_import_is_logged_and_a_dry_run_is_not(team: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from exports.exporters import prompt_export
    from exports.services import bundle_import

    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="Exported")
    version_create(prompt=prompt, user=team.editor, content=text_document("hi"))
    exported = prompt_export(prompt=prompt, fmt="json")

    def upload() -> SimpleUploadedFile:
        return SimpleUploadedFile(exported.filename, exported.data)

    bundle_import(workspace=team.workspace, user=team.editor, upload=upload(), dry_run=True)
    assert not AuditEvent.objects.filter(action="import.studio").exists()
    bundle_import(workspace=team.workspace, user=team.editor, upload=upload())
    event = only("import.studio")
    assert event.actor_id == team.editor.pk and event.workspace_id == team.workspace.pk
    assert event.details["created"]
