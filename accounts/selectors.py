"""Reads for accounts: workspaces and members as a user may see them."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership, User, Workspace
from studio.permissions import memberships_for, workspace_ids_for


def workspace_list(*, user: User) -> QuerySet[Workspace]:
    return Workspace.objects.filter(id__in=workspace_ids_for(user)).order_by("name", "id")


def membership_list(*, user: User) -> list[Membership]:
    """The user's memberships with their workspaces, sorted by workspace name."""
    return sorted(memberships_for(user).values(), key=lambda m: (m.workspace.name.lower(), m.workspace_id))


def member_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")


def member_get(*, workspace: Workspace, user_id: object) -> Membership | None:
    try:
        return Membership.objects.select_related("user", "workspace").get(workspace=workspace, user_id=int(user_id))  # type: ignore[arg-type]
    except (Membership.DoesNotExist, TypeError, ValueError):
        return None
