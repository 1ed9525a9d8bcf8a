"""Reads of the audit log: one workspace's events, filtered by action, actor and date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Membership
from audit.models import ACTION_LABELS, FORMER_ACTION_LABELS, AuditEvent

BAD_DATE = "{field} must be a date like 2026-01-31."
BAD_ACTOR = "actor must be a user id."
DATE_ORDER = "The start date is after the end date."


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_query(self) -> dict[str, str]:
        query = {"action": self.action, "actor": str(self.actor_id or ""), "from": "", "to": ""}
        query["from"] = self.date_from.isoformat() if self.date_from else ""
        query["to"] = self.date_to.isoformat() if self.date_to else ""
        return {k: v for k, v in query.items() if v}


def parse_filters(params: Any) -> tuple[AuditFilters, dict[str, str]]:
    """Filters from query parameters (``action``, ``actor``, ``from``, ``to``) and a message per bad one.

    A bad value is left out (and reported) rather than failing the whole page.
    """
    errors: dict[str, str] = {}
    action = str(params.get("action", "") or "").strip()[:64]
    actor_id: int | None = None
    raw_actor = str(params.get("actor", "") or "").strip()
    if raw_actor:
        try:
            actor_id = int(raw_actor)
            if not 0 < actor_id < 2**63:
                raise ValueError
        except ValueError:
            errors["actor"] = BAD_ACTOR
            actor_id = None
    dates: dict[str, date | None] = {}
    for field in ("from", "to"):
        raw = str(params.get(field, "") or "").strip()
        dates[field] = None
        if raw:
            try:
                dates[field] = date.fromisoformat(raw)
            except ValueError:
                errors[field] = BAD_DATE.format(field=field)
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = DATE_ORDER
        dates["to"] = None
    return AuditFilters(action=action, actor_id=actor_id, date_from=dates["from"], date_to=dates["to"]), errors


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def member_ids(*, workspace_id: int) -> list[int]:
    return list(Membership.objects.filter(workspace_id=workspace_id).values_list("user_id", flat=True))


def event_list(*, workspace_id: int, filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """The workspace's events (and its members' log-ins), newest first."""
    events = AuditEvent.objects.in_workspace(workspace_id, member_ids(workspace_id=workspace_id))  # type: ignore[attr-defined]
    filters = filters or AuditFilters()
    if filters.action:
        if "." in filters.action:
            events = events.filter(action=filters.action)
        else:
            events = events.filter(action__startswith=f"{filters.action}.")
    if filters.actor_id:
        events = events.filter(actor_id=filters.actor_id)
    if filters.date_from:
        events = events.filter(created_at__gte=_start_of(filters.date_from))
    if filters.date_to:
        events = events.filter(created_at__lt=_start_of(filters.date_to + timedelta(days=1)))
    return events.order_by("-created_at", "-id")  # type: ignore[no-any-return]


def action_choices(*, workspace_id: int) -> list[tuple[str, str]]:
    """Known actions plus any other action present in this workspace's log, by label."""
    present = set(AuditEvent.objects.filter(workspace_id=workspace_id).values_list("action", flat=True).distinct())
    choices = dict(ACTION_LABELS)
    for action in present - set(choices):
        choices[action] = FORMER_ACTION_LABELS.get(action, action)
    return sorted(choices.items(), key=lambda item: item[0])


def actor_choices(*, workspace_id: int) -> list[tuple[int, str]]:
    """Current members (by name) for the actor filter."""
    members = Membership.objects.filter(workspace_id=workspace_id).select_related("user").order_by("user__email")
    return [(m.user_id, f"{m.user.name} ({m.user.email})") for m in members]
