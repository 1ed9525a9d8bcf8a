"""The audit log is append-only at the model, queryset and admin level."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from accounts.tests.factories import UserFactory
from audit.admin import AuditEventAdmin
from audit.models import APPEND_ONLY, AppendOnlyError, AuditEvent
from audit.services import BAD_ACTION, record

pytestmark = pytest.mark.django_db


def test_an_event_cannot_be_changed_once_saved(team: Any) -> None:
    event = record(action="member.invited", actor=team.owner, workspace=team.workspace)
    event.action = "member.removed"
    with pytest.raises(AppendOnlyError, match=APPEND_ONLY):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "member.invited"


def test_events_cannot_be_deleted_one_by_one_or_in_bulk(team: Any) -> None:
    event = record(action="member.invited", actor=team.owner, workspace=team.workspace)
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x.y")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_history_outlives_the_workspace_and_the_user(team: Any) -> None:
    gone = UserFactory(email="gone@acme.test")
    record(action="member.invited", actor=gone, workspace=team.other_workspace, target=gone)
    workspace_id, user_id = team.other_workspace.pk, gone.pk
    gone.delete()
    team.other_workspace.delete()
    event = AuditEvent.objects.get(action="member.invited")
    assert (event.workspace_id, event.actor_id) == (workspace_id, user_id)
    assert event.actor_email == "gone@acme.test"
    assert event.workspace_name == "Other Co"


def test_action_must_be_a_dotted_code(team: Any) -> None:
    for bad in ("login", "Member.Invited", "member.", "drop table; --", ""):
        with pytest.raises(ValueError) as info:
            record(action=bad, actor=team.owner, workspace=None)
        assert str(info.value) == BAD_ACTION.format(action=bad)
    assert not AuditEvent.objects.exists()


def test_details_are_stored_as_json_and_the_target_is_described(team: Any) -> None:
    from datetime import date
    from decimal import Decimal

    event = record(
        action="member.role_changed",
        actor=team.admin,
        workspace=team.workspace,
        target=team.viewer,
        details={"when": date(2026, 1, 2), "cost": Decimal("1.50")},
    )
    event.refresh_from_db()
    assert event.details == {"when": "2026-01-02", "cost": "1.50"}
    assert (event.target_type, event.target_id, event.target_repr) == (
        "accounts.user",
        str(team.viewer.pk),
        str(team.viewer),
    )
    assert event.actor_email == team.admin.email
    assert event.workspace_name == "Acme"


def test_admin_is_read_only(team: Any) -> None:
    event = record(action="member.invited", actor=team.owner, workspace=team.workspace)
    model_admin = AuditEventAdmin(AuditEvent, site)
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert model_admin.get_actions(request) == {}
    assert "action" in model_admin.get_readonly_fields(request, event)


def test_admin_change_page_shows_the_event_read_only(client: Any, team: Any) -> None:
    event = record(action="member.invited", actor=team.owner, workspace=team.workspace)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert response.status_code == 200
    assert b'name="action"' not in response.content
    response = client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
