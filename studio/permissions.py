"""The one place that decides who may see and change what.

Every page and API view goes through these helpers:

* ``workspace_ids_for(user)`` / ``scope(queryset, user)`` limit a queryset to the user's workspaces;
* ``membership_for(user, workspace_id, min_role=...)`` returns the membership or raises:
  ``Http404`` when the user is not a member (another workspace's object never confirms it exists),
  ``PermissionDenied`` when the role is too low;
* ``get_object_for_user(queryset, user, min_role=..., **lookup)`` does both for one object.

Memberships are read once per request and cached on the user object.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from accounts.models import Membership, Role

M = TypeVar("M", bound=Model)

_CACHE_ATTR = "_studio_memberships"


def role_error(role: str, minimum: str) -> str:
    return f"Your role in this workspace is {role}; this needs {minimum} or higher."


def memberships_for(user: Any) -> dict[int, Membership]:
    """The user's memberships keyed by workspace id (cached on the user for the request)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = {m.workspace_id: m for m in Membership.objects.filter(user=user).select_related("workspace")}
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_memberships(user: Any) -> None:
    """Drop the per-request cache after a membership change."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def workspace_ids_for(user: Any, *, min_role: str = Role.VIEWER) -> list[int]:
    return [wid for wid, m in memberships_for(user).items() if m.has_role(min_role)]


def scope(queryset: QuerySet[M], user: Any, *, field: str = "workspace", min_role: str = Role.VIEWER) -> QuerySet[M]:
    """Limit ``queryset`` to rows whose ``field`` is one of the user's workspaces."""
    return queryset.filter(**{f"{field}__in": workspace_ids_for(user, min_role=min_role)})


def membership_for(user: Any, workspace_id: Any, *, min_role: str = Role.VIEWER) -> Membership:
    """The user's membership of ``workspace_id``; 404 for outsiders, 403 for a role too low."""
    try:
        key = int(workspace_id)
    except (TypeError, ValueError):
        raise Http404("No such workspace.") from None
    membership = memberships_for(user).get(key)
    if membership is None:
        raise Http404("No such workspace.")
    require_role(membership, min_role)
    return membership


def require_role(membership: Membership, minimum: str) -> None:
    if not membership.has_role(minimum):
        raise PermissionDenied(role_error(membership.role, minimum))


def get_object_for_user(
    queryset: QuerySet[M], user: Any, *, min_role: str = Role.VIEWER, field: str = "workspace", **lookup: Any
) -> M:
    """One object from the user's workspaces; 404 if absent or elsewhere, 403 if the role is too low."""
    try:
        obj = scope(queryset, user, field=field).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from None
    *path, last = field.split("__")
    target: Any = obj
    for part in path:
        target = getattr(target, part)
    workspace_id = getattr(target, f"{last}_id")
    require_role(memberships_for(user)[workspace_id], min_role)
    return obj


SESSION_WORKSPACE_KEY = "workspace_id"


def current_membership(request: Any) -> Membership | None:
    """The membership of the workspace the browser session is in (the switcher sets it).

    Falls back to the user's personal workspace, then the oldest one. Cached on the request.
    """
    if hasattr(request, "_studio_membership"):
        return request._studio_membership  # type: ignore[no-any-return]
    memberships = memberships_for(request.user)
    chosen = memberships.get(request.session.get(SESSION_WORKSPACE_KEY)) if memberships else None
    if chosen is None and memberships:
        chosen = min(memberships.values(), key=lambda m: (not m.workspace.personal, m.workspace_id))
    request._studio_membership = chosen
    return chosen
