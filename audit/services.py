"""Writes to the audit log: ``record`` is the only way an event is made."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import User, Workspace
from audit.context import current_request
from audit.models import AuditEvent

ACTION_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
BAD_ACTION = "An audit action is a dotted lower-case code such as member.invited; got {action!r}."


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    raw = str(request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _json_safe(details: dict[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    return json.loads(json.dumps(details, cls=DjangoJSONEncoder, default=str))  # type: ignore[no-any-return]


def record(
    *,
    action: str,
    actor: User | None,
    workspace: Workspace | int | None,
    target: Model | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event. Without ``request`` the request being served (if any) gives the IP and user agent.

    Called inside the caller's transaction, so an action that rolls back leaves no event behind.
    """
    if not ACTION_PATTERN.match(action):
        raise ValueError(BAD_ACTION.format(action=action))
    request = request if request is not None else current_request()
    if isinstance(workspace, Workspace):
        workspace_id: int | None = workspace.pk
        workspace_name = workspace.name
    else:
        workspace_id = workspace
        workspace_name = ""
        if workspace_id is not None:
            workspace_name = Workspace.objects.filter(pk=workspace_id).values_list("name", flat=True).first() or ""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    event = AuditEvent(
        action=action,
        workspace_id=workspace_id,
        workspace_name=workspace_name[:100],
        actor=actor,
        actor_email=(actor.email if actor is not None else "")[:254],
        details=_json_safe(details),
        ip=_client_ip(request),
        user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:300] if request is not None else "",
    )
    if target is not None:
        event.target_type = f"{target._meta.app_label}.{target._meta.model_name}"[:64]
        event.target_id = str(target.pk if target.pk is not None else "")[:64]
        event.target_repr = str(target)[:200]
    event.save()
    return event
