"""/api/testing/ (runs) and /api/providers/ (credentials, models): thin views over services and selectors.

Roles: viewers read runs and models; editors run; admins manage credentials and custom models.
Another workspace's object is a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from providers import selectors, services
from providers.models import CREDENTIAL_PROVIDERS, ModelInfo, Provider, ProviderCredential, Run, RunSource
from providers.quota import CallQuotaExceeded
from providers.serializers import CredentialOutputSerializer, ModelOutputSerializer, RunOutputSerializer
from studio.api import DecimalInput, Pagination, StrictCharField
from studio.openapi import conflict, request_rule
from studio.permissions import get_object_for_user, membership_for, workspace_ids_for
from studio.throttling import WriteScopedRateThrottle

WORKSPACE_REQUIRED = "Give the workspace id (?workspace=<id>)."
NOT_CUSTOM = "Only a workspace's custom models can be deleted here; shared catalog rows are edited in admin."


def _workspace_param(request: Request, *, min_role: str) -> Any:
    value = request.query_params.get("workspace")
    if not value:
        raise ValidationError({"workspace": [WORKSPACE_REQUIRED]})
    return membership_for(request.user, value, min_role=min_role).workspace


class TargetInput(serializers.Serializer[Any]):
    provider = serializers.ChoiceField(choices=Provider.choices)
    model = StrictCharField(max_length=200)
    params = serializers.DictField(required=False, default=dict)
    credential = serializers.IntegerField(required=False, allow_null=True, default=None)


class RunInput(serializers.Serializer[Any]):
    workspace = serializers.IntegerField()
    prompt = serializers.IntegerField(required=False, allow_null=True, default=None)
    version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    label = StrictCharField(required=False, allow_blank=True, default="", max_length=50)
    content = serializers.JSONField(required=False, allow_null=True, default=None)
    variables = serializers.DictField(required=False, default=dict)
    targets = serializers.ListField(child=TargetInput(), min_length=1, max_length=services.MAX_TARGETS)
    stream = serializers.BooleanField(required=False, default=False)


def _resolve(
    request: Request, data: dict[str, Any], *, min_role: str = Role.EDITOR
) -> tuple[Any, dict[str, Any], Any, Any]:
    from prompts.rendering import RenderError

    workspace = membership_for(request.user, data["workspace"], min_role=min_role).workspace
    try:
        rendered, prompt, version = selectors.run_input_resolve(
            workspace_id=workspace.pk,
            prompt_id=data.get("prompt"),
            version=data.get("version"),
            label=data.get("label") or None,
            content=data.get("content"),
            variables=data.get("variables"),
        )
    except RenderError as exc:
        raise ValidationError({"variables": [str(exc)]}) from None
    return workspace, rendered, prompt, version


class RunCreateView(APIView):
    """Run a prompt version (or a draft) against up to 4 targets; JSON, or SSE when ``stream`` is true."""

    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "run"

    @extend_schema(
        request=RunInput,
        responses={
            201: inline_serializer("RunResult", {"runs": RunOutputSerializer(many=True)}),
            (200, "text/event-stream"): OpenApiResponse(description="SSE: run, delta, done, error, ping, end events."),
        },
    )
    def post(self, request: Request) -> Response | StreamingHttpResponse:
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace, rendered, prompt, version = _resolve(request, values)
        targets = [
            services.Target(provider=t["provider"], model=t["model"], params=t["params"], credential_id=t["credential"])
            for t in values["targets"]
        ]
        common = {
            "workspace": workspace,
            "user": request.user,
            "rendered": rendered,
            "targets": targets,
            "source": RunSource.API,
            "prompt_version": version,
            "prompt": prompt,
            "variables": values["variables"],
        }
        try:
            if values["stream"]:
                events = services.run_events(**common)
            else:
                runs = services.runs_execute(**common)
        except CallQuotaExceeded as exc:
            # 429 with Retry-After (and ``retry_after`` in the body), like the rate throttles.
            raise Throttled(wait=exc.retry_after, detail=exc.text, code="call_quota") from None
        if values["stream"]:
            response = StreamingHttpResponse(
                (services.sse(name, payload) for name, payload in events), content_type="text/event-stream"
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        return Response({"runs": RunOutputSerializer(runs, many=True).data}, status=status.HTTP_201_CREATED)


class EstimateView(APIView):
    """A pre-run cost estimate per target, from the prompt's length (labelled as an estimate)."""

    @extend_schema(
        request=RunInput,
        responses={
            200: inline_serializer("Estimates", {"estimates": serializers.ListField(child=serializers.DictField())})
        },
    )
    def post(self, request: Request) -> Response:
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace, rendered, _, _ = _resolve(request, values, min_role=Role.VIEWER)
        estimates = []
        for t in values["targets"]:
            target = services.Target(provider=t["provider"], model=t["model"], params=t["params"])
            estimate = services.run_estimate(workspace_id=workspace.pk, rendered=rendered, target=target)
            estimates.append({"provider": target.provider, "model": target.model, **estimate.as_dict()})
        return Response({"estimates": estimates})


RUN_FILTERS = ["workspace", "prompt", "prompt_version", "model", "provider", "status", "source", "from", "to"]
# The ids are integers, "from" and "to" a date or a date-time (selectors.run_list); an empty value is no filter.
_BLANK = {"type": "string", "maxLength": 0}
_ID_FILTER = {"oneOf": [{"type": "integer"}, _BLANK]}
_WHEN_FILTER = {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}, _BLANK]}
RUN_FILTER_TYPES: dict[str, Any] = {
    "workspace": _ID_FILTER,
    "prompt": _ID_FILTER,
    "prompt_version": _ID_FILTER,
    "from": _WHEN_FILTER,
    "to": _WHEN_FILTER,
}


class RunListView(APIView):
    """Runs in the caller's workspaces, newest first; filter by prompt, model, status, source and date."""

    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema(
        parameters=[OpenApiParameter(name, RUN_FILTER_TYPES.get(name, str), required=False) for name in RUN_FILTERS],
        responses={200: RunOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        workspace_ids = workspace_ids_for(request.user)
        if request.query_params.get("workspace"):
            workspace_ids = [membership_for(request.user, request.query_params["workspace"]).workspace_id]
        filters = {name: request.query_params.get(name) for name in RUN_FILTERS}
        runs = selectors.run_list(workspace_ids=workspace_ids, filters=filters)
        paginator = Pagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True).data)


class RunDetailView(APIView):
    @extend_schema(responses={200: RunOutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_for_user(Run.objects.select_related("prompt_version"), request.user, pk=pk)
        return Response(RunOutputSerializer(run).data)


# the service refuses a blank api_key for every provider but openai_compatible
request_rule(
    "CredentialInputRequest",
    anyOf=[
        {"required": ["provider"], "properties": {"provider": {"const": Provider.OPENAI_COMPATIBLE.value}}},
        {"required": ["api_key"], "properties": {"api_key": {"pattern": r"\S"}}},
    ],
)


class CredentialInput(serializers.Serializer[Any]):
    workspace = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=CREDENTIAL_PROVIDERS)
    label = StrictCharField(required=False, allow_blank=True, default="", max_length=100)
    base_url = StrictCharField(required=False, allow_blank=True, default="", max_length=500)
    api_key = StrictCharField(
        required=False, allow_blank=True, default="", write_only=True, trim_whitespace=True, max_length=1000
    )


class CredentialListView(APIView):
    """A workspace's provider credentials (provider, label, base URL, last 4 characters; never the key)."""

    @extend_schema(
        parameters=[OpenApiParameter("workspace", int, required=True)],
        responses={200: CredentialOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        workspace = _workspace_param(request, min_role=Role.VIEWER)
        credentials = selectors.credential_list(workspace_id=workspace.pk)
        return Response(CredentialOutputSerializer(credentials, many=True).data)

    @extend_schema(request=CredentialInput, responses={201: CredentialOutputSerializer})
    def post(self, request: Request) -> Response:
        data = CredentialInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace = membership_for(request.user, values["workspace"], min_role=Role.ADMIN).workspace
        credential = services.credential_create(
            workspace=workspace,
            user=request.user,
            provider=values["provider"],
            api_key=values["api_key"],
            label=values["label"],
            base_url=values["base_url"],
        )
        return Response(CredentialOutputSerializer(credential).data, status=status.HTTP_201_CREATED)


class CredentialReplaceInput(serializers.Serializer[Any]):
    api_key = StrictCharField(required=False, allow_blank=True, default="", write_only=True, max_length=1000)
    label = StrictCharField(required=False, allow_blank=True, max_length=100)
    base_url = StrictCharField(required=False, allow_blank=True, max_length=500)


class CredentialDetailView(APIView):
    @extend_schema(request=CredentialReplaceInput, responses={200: CredentialOutputSerializer})
    def put(self, request: Request, pk: int) -> Response:
        """Replace the key (and optionally the label and base URL)."""
        credential = get_object_for_user(ProviderCredential.objects.all(), request.user, min_role=Role.ADMIN, pk=pk)
        data = CredentialReplaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        credential = services.credential_replace(
            credential=credential,
            api_key=values["api_key"],
            label=values.get("label"),
            base_url=values.get("base_url"),
        )
        return Response(CredentialOutputSerializer(credential).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        credential = get_object_for_user(ProviderCredential.objects.all(), request.user, min_role=Role.ADMIN, pk=pk)
        services.credential_delete(credential=credential)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CredentialTestView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "ConnectionCheck",
                {
                    "ok": serializers.BooleanField(),
                    "message": serializers.CharField(),
                    "latency_ms": serializers.IntegerField(),
                    "error_kind": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        credential = get_object_for_user(ProviderCredential.objects.all(), request.user, min_role=Role.ADMIN, pk=pk)
        check = services.credential_test(credential=credential)
        return Response(
            {"ok": check.ok, "message": check.message, "latency_ms": check.latency_ms, "error_kind": check.error_kind}
        )


class CustomModelInput(serializers.Serializer[Any]):
    workspace = serializers.IntegerField()
    model_id = StrictCharField(max_length=200)
    display_name = StrictCharField(required=False, allow_blank=True, default="", max_length=200)
    input_modalities = serializers.ListField(
        child=serializers.ChoiceField(choices=["text", "image", "audio", "document"]), required=False, default=list
    )
    context_window = serializers.IntegerField(required=False, default=0, min_value=0)
    price_input = DecimalInput(max_digits=12, decimal_places=6, required=False, default=0, min_value=0)
    price_output = DecimalInput(max_digits=12, decimal_places=6, required=False, default=0, min_value=0)
    price_cached_input = DecimalInput(
        max_digits=12, decimal_places=6, required=False, allow_null=True, default=None, min_value=0
    )


class ModelListView(APIView):
    """The model catalog: shared models plus the workspace's custom OpenAI-compatible models."""

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", int, required=False),
            OpenApiParameter("provider", str, required=False),
        ],
        responses={200: ModelOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        workspace_id = None
        if request.query_params.get("workspace"):
            workspace_id = membership_for(request.user, request.query_params["workspace"]).workspace_id
        models = selectors.model_list(workspace_id=workspace_id, provider=request.query_params.get("provider"))
        return Response(ModelOutputSerializer(models, many=True).data)

    @extend_schema(
        request=CustomModelInput,
        responses={201: ModelOutputSerializer, **conflict("The workspace already has a custom model with this id.")},
    )
    def post(self, request: Request) -> Response:
        data = CustomModelInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        workspace = membership_for(request.user, values.pop("workspace"), min_role=Role.ADMIN).workspace
        model = services.custom_model_create(workspace=workspace, **values)
        return Response(ModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        model = ModelInfo.objects.filter(pk=pk).first()
        if model is not None and model.workspace_id is None:
            raise PermissionDenied(NOT_CUSTOM)
        model = get_object_for_user(
            ModelInfo.objects.filter(workspace__isnull=False), request.user, min_role=Role.ADMIN, pk=pk
        )
        services.custom_model_delete(model=model)
        return Response(status=status.HTTP_204_NO_CONTENT)
