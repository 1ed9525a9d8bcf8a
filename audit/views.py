"""The audit log page in the settings console (admins and owners of the current workspace)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from accounts.models import Role, User
from audit import selectors
from audit.models import AuditEvent
from studio.permissions import current_membership, require_role

PAGE_SIZE = 50
CSV_HEADER = [
    "time",
    "action",
    "actor_id",
    "actor_email",
    "workspace_id",
    "workspace_name",
    "target_type",
    "target_id",
    "target",
    "details",
    "ip",
    "user_agent",
]
# A cell starting with one of these would run as a formula in a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


def _fragment(request: HtmxHttpRequest, target: str) -> bool:
    return (
        bool(request.htmx)
        and request.htmx.target == target
        and not request.htmx.boosted
        and not request.htmx.history_restore_request
    )


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _details_text(details: dict[str, Any]) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted(details.items()))


def _csv_rows(events: Any) -> Iterator[list[str]]:
    yield CSV_HEADER
    for event in events.iterator(chunk_size=500):
        yield [
            csv_cell(value)
            for value in (
                event.created_at.isoformat(),
                event.action,
                event.actor_id or "",
                event.actor_email,
                event.workspace_id or "",
                event.workspace_name,
                event.target_type,
                event.target_id,
                event.target_repr,
                _details_text(event.details),
                event.ip or "",
                event.user_agent,
            )
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(events: Any, workspace_id: int) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in _csv_rows(events)), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-workspace-{workspace_id}-{stamp}.csv"'
    return response


@require_GET
@login_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("accounts:workspace-create")
    require_role(membership, Role.ADMIN)
    workspace_id = membership.workspace_id
    filters, errors = selectors.parse_filters(request.GET)
    events = selectors.event_list(workspace_id=workspace_id, filters=filters)
    if request.GET.get("format") == "csv":
        return _csv_response(events, workspace_id)
    page = Paginator(events.select_related(None), PAGE_SIZE).get_page(request.GET.get("page"))
    rows: list[AuditEvent] = list(page.object_list)
    context = {
        "current": membership,
        "workspace": membership.workspace,
        "page": page,
        "events": rows,
        "filters": filters,
        "query": filters.as_query(),
        "errors": errors,
        "filtered": bool(filters.as_query()),
        "action_choices": selectors.action_choices(workspace_id=workspace_id),
        "actor_choices": selectors.actor_choices(workspace_id=workspace_id),
    }
    template = "audit/log.html"
    if _fragment(request, "audit-results"):
        template += "#results"
    return render(request, template, context)
