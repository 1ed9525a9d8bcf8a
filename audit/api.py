"""GET /api/audit/?workspace=<id>: the workspace's audit log (admins and owners)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from audit import selectors
from audit.models import AuditEvent
from studio.api import Pagination
from studio.permissions import membership_for

WORKSPACE_REQUIRED = "workspace is required: the id of a workspace where you are an admin or owner."


class AuditEventListView(APIView):
    pagination_class = Pagination  # paginated by hand below; drf-spectacular documents the page envelope from it

    class Output(serializers.ModelSerializer[AuditEvent]):
        actor_id = serializers.IntegerField(allow_null=True)
        workspace_id = serializers.IntegerField(allow_null=True)

        class Meta:
            model = AuditEvent
            ref_name = "AuditEventOutput"
            fields = (
                "id",
                "created_at",
                "action",
                "actor_id",
                "actor_email",
                "workspace_id",
                "workspace_name",
                "target_type",
                "target_id",
                "target_repr",
                "details",
                "ip",
                "user_agent",
            )

    @extend_schema(
        operation_id="audit_events_list",
        parameters=[
            OpenApiParameter("workspace", OpenApiTypes.INT, required=True, description="Workspace id (admin+)."),
            OpenApiParameter(
                "action", OpenApiTypes.STR, description="An action (member.invited) or a category (member)."
            ),
            OpenApiParameter("actor", OpenApiTypes.INT, description="Only events by this user id."),
            OpenApiParameter("from", OpenApiTypes.DATE, description="From this day (inclusive, UTC)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Up to this day (inclusive, UTC)."),
        ],
        responses=Output(many=True),
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("workspace")
        if not raw:
            raise ValidationError({"workspace": [WORKSPACE_REQUIRED]})
        membership = membership_for(request.user, raw, min_role=Role.ADMIN)
        filters, errors = selectors.parse_filters(request.query_params)
        if errors:
            raise ValidationError({field: [text] for field, text in errors.items()})
        events = selectors.event_list(workspace_id=membership.workspace_id, filters=filters)
        paginator = self.pagination_class()
        page: Any = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(self.Output(page, many=True).data)
