"""/api/analytics/: summary, time series and breakdowns of a workspace's runs. Every member can read.

All three take ``workspace`` (required), ``from`` / ``to`` (YYYY-MM-DD, inclusive, UTC; default the last
30 days) and the filters ``provider``, ``model``, ``prompt``, ``version``, ``user``, ``source``, ``status``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from analytics import histograms, selectors
from analytics.filters import (
    DIMENSIONS,
    INTERVALS,
    Filters,
    dimension_from_params,
    filters_from_params,
    interval_from_params,
)
from providers.models import Provider, RunSource
from studio.permissions import membership_for

WORKSPACE_REQUIRED = "Give the workspace id (?workspace=<id>)."
PERCENTILES_METHOD_HELP = (
    f'"{histograms.EXACT}" (read from every run) when no day of the range is rolled up yet, else '
    f'"{histograms.APPROXIMATE}" (summed daily histograms).'
)

FILTER_PARAMETERS = [
    OpenApiParameter("workspace", OpenApiTypes.INT, required=True, description="Workspace id."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC, inclusive); default 29 days before `to`."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC, inclusive); default today."),
    OpenApiParameter("provider", OpenApiTypes.STR, enum=Provider.values),
    OpenApiParameter("model", OpenApiTypes.STR, description="Model id as sent to the provider."),
    OpenApiParameter("prompt", OpenApiTypes.INT, description="Prompt id."),
    OpenApiParameter("version", OpenApiTypes.INT, description="Prompt version id."),
    OpenApiParameter("user", OpenApiTypes.INT, description="User id."),
    OpenApiParameter("source", OpenApiTypes.STR, enum=RunSource.values),
    OpenApiParameter("status", OpenApiTypes.STR, enum=["ok", "error"]),
]


def filters_for(request: Request) -> Filters:
    value = request.query_params.get("workspace")
    if not value:
        raise ValidationError({"workspace": [WORKSPACE_REQUIRED]})
    workspace = membership_for(request.user, value, min_role=Role.VIEWER).workspace
    return filters_from_params(request.query_params, workspace_id=workspace.pk)


class TotalsOutput(serializers.Serializer[Any]):
    calls = serializers.IntegerField()
    ok_calls = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=20, decimal_places=8)
    cost_per_1k_calls = serializers.DecimalField(source="cost_per_1k", max_digits=24, decimal_places=8, allow_null=True)
    latency_mean_ms = serializers.FloatField(source="latency_mean", allow_null=True)
    ttft_mean_ms = serializers.FloatField(source="ttft_mean", allow_null=True)


class PercentilesOutput(serializers.Serializer[Any]):
    latency_p50_ms = serializers.FloatField(source="latency_p50", allow_null=True)
    latency_p95_ms = serializers.FloatField(source="latency_p95", allow_null=True)
    latency_p99_ms = serializers.FloatField(source="latency_p99", allow_null=True)
    ttft_p50_ms = serializers.FloatField(source="ttft_p50", allow_null=True)
    ttft_p95_ms = serializers.FloatField(source="ttft_p95", allow_null=True)
    ttft_p99_ms = serializers.FloatField(source="ttft_p99", allow_null=True)


class RangeOutput(serializers.Serializer[Any]):
    workspace = serializers.IntegerField(source="workspace_id")
    start = serializers.DateField()
    end = serializers.DateField()
    filters = serializers.SerializerMethodField()

    def get_filters(self, obj: Filters) -> dict[str, str]:
        return {k: v for k, v in obj.params().items() if k not in ("from", "to")}


class EstimateOutput(serializers.Serializer[Any]):
    month_start = serializers.DateField()
    spent = serializers.DecimalField(max_digits=20, decimal_places=8)
    projected = serializers.DecimalField(max_digits=24, decimal_places=6)
    days_elapsed = serializers.FloatField()
    days_in_month = serializers.IntegerField()


class SummaryView(APIView):
    """Totals, error rate, latency/TTFT percentiles, and this month's spend with a projection to month end."""

    @extend_schema_serializer(component_name="AnalyticsSummaryOutput")
    class Output(serializers.Serializer[Any]):
        range = RangeOutput(source="filters")
        totals = TotalsOutput()
        percentiles = PercentilesOutput()
        percentiles_method = serializers.CharField(help_text=PERCENTILES_METHOD_HELP)
        month = EstimateOutput()

    @extend_schema(parameters=FILTER_PARAMETERS, responses=Output)
    def get(self, request: Request) -> Response:
        filters = filters_for(request)
        through = selectors.rollup_through()
        result = selectors.summary(filters, through=through)
        estimate = selectors.month_estimate(filters, through=through)
        payload = {
            "filters": filters,
            "totals": result.totals,
            "percentiles": result.percentiles,
            "percentiles_method": result.percentiles_method,
            "month": estimate,
        }
        return Response(self.Output(payload).data)


class PointOutput(serializers.Serializer[Any]):
    bucket = serializers.SerializerMethodField()
    totals = TotalsOutput()
    percentiles = PercentilesOutput()

    def get_bucket(self, obj: selectors.Point) -> str:
        return obj.bucket.isoformat()


class TimeseriesView(APIView):
    """Totals and percentiles per hour, day or week (every bucket of the range, empty ones with zeros)."""

    @extend_schema_serializer(component_name="AnalyticsTimeseriesOutput")
    class Output(serializers.Serializer[Any]):
        range = RangeOutput(source="filters")
        interval = serializers.ChoiceField(choices=INTERVALS)
        percentiles_method = serializers.CharField(help_text=PERCENTILES_METHOD_HELP)
        points = PointOutput(many=True)

    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "interval", OpenApiTypes.STR, enum=list(INTERVALS), description="Default: from the range's length."
            ),
        ],
        responses=Output,
    )
    def get(self, request: Request) -> Response:
        filters = filters_for(request)
        interval = interval_from_params(request.query_params, filters)
        return Response(self.Output(selectors.timeseries(filters, interval=interval)).data)


class BreakdownRowOutput(serializers.Serializer[Any]):
    key = serializers.SerializerMethodField()
    label = serializers.CharField()
    sublabel = serializers.CharField()
    totals = TotalsOutput()
    percentiles = PercentilesOutput()

    def get_key(self, obj: selectors.BreakdownRow) -> Any:
        return list(obj.key) if isinstance(obj.key, tuple) else obj.key


class BreakdownView(APIView):
    """Totals and percentiles per provider, model, prompt, version, user or source (largest cost first)."""

    @extend_schema_serializer(component_name="AnalyticsBreakdownOutput")
    class Output(serializers.Serializer[Any]):
        range = RangeOutput(source="filters")
        by = serializers.ChoiceField(choices=DIMENSIONS)
        percentiles_method = serializers.CharField(help_text=PERCENTILES_METHOD_HELP)
        rows = BreakdownRowOutput(many=True)
        totals = TotalsOutput()

    @extend_schema(
        parameters=[*FILTER_PARAMETERS, OpenApiParameter("by", OpenApiTypes.STR, enum=list(DIMENSIONS))],
        responses=Output,
    )
    def get(self, request: Request) -> Response:
        filters = filters_for(request)
        by = dimension_from_params(request.query_params)
        return Response(self.Output(selectors.breakdown(filters, by=by)).data)
