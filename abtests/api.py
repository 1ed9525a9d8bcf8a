"""/api/datasets/: thin DRF views over abtests.services and abtests.selectors.

Roles: viewers read; editors create, change, import and edit rows; admins delete datasets.
Another workspace's dataset is a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from abtests import selectors, services
from abtests.models import COLUMN_TYPES, ABTest, Dataset, DatasetRow, Review, ReviewChoice, Trial, TrialStatus, Variant
from accounts.models import Role
from prompts.content import VARIABLE_NAME_RE
from studio.api import DecimalInput, Pagination, StrictCharField
from studio.openapi import conflict
from studio.permissions import membership_for
from studio.throttling import WriteScopedRateThrottle


@extend_schema_serializer(component_name="DatasetColumn")
class ColumnSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=COLUMN_TYPES, default="text")


BAD_COLUMN_NAME = "%(value)r is not a valid variable name (letters, digits and _, starting with a letter or _)."


@extend_schema_serializer(component_name="DatasetColumnInput")
class ColumnInput(serializers.Serializer[Any]):
    name = StrictCharField(
        max_length=64, trim_whitespace=False, validators=[RegexValidator(VARIABLE_NAME_RE.pattern, BAD_COLUMN_NAME)]
    )
    type = serializers.ChoiceField(choices=COLUMN_TYPES, default="text")


def _columns_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=ColumnInput(), help_text="Column names are unique.", **kwargs)


@extend_schema_serializer(component_name="Dataset")
class DatasetOutput(serializers.ModelSerializer[Dataset]):
    columns = ColumnSerializer(many=True)
    row_count = serializers.IntegerField(read_only=True)
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    workspace = serializers.IntegerField(source="workspace_id")

    class Meta:
        model = Dataset
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "columns",
            "row_count",
            "created_by",
            "created_at",
            "updated_at",
        ]


@extend_schema_serializer(component_name="DatasetRow")
class RowOutput(serializers.ModelSerializer[DatasetRow]):
    values = serializers.JSONField()

    class Meta:
        model = DatasetRow
        fields = ["id", "index", "values"]


NAME_TAKEN_DOC = "A dataset with this name already exists in the workspace."


def _paginate(
    request: Request, view: APIView, queryset: Any, serializer: type[serializers.Serializer[Any]]
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _output(dataset_id: int, request: Request) -> dict[str, Any]:
    return DatasetOutput(selectors.dataset_get(user=request.user, pk=dataset_id)).data  # type: ignore[return-value]


class DatasetListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema_serializer(component_name="DatasetCreateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = StrictCharField(max_length=200)
        description = StrictCharField(required=False, allow_blank=True, default="")
        columns = _columns_field(required=False, default=list)
        rows = serializers.ListField(
            child=serializers.DictField(), required=False, default=list, help_text="Rows keyed by column name."
        )

    @extend_schema(
        operation_id="datasets_list",
        parameters=[OpenApiParameter("workspace", int), OpenApiParameter("search", str)],
        responses=DatasetOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        datasets = selectors.dataset_list(
            user=request.user, workspace_id=params.get("workspace") or None, search=params.get("search", "")
        )
        return _paginate(request, self, datasets, DatasetOutput)

    @extend_schema(
        operation_id="datasets_create", request=Input, responses={201: DatasetOutput, **conflict(NAME_TAKEN_DOC)}
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        membership = membership_for(request.user, values.pop("workspace"), min_role=Role.EDITOR)
        dataset = services.dataset_create(workspace=membership.workspace, user=request.user, **values)
        return Response(_output(dataset.pk, request), status=status.HTTP_201_CREATED)


class DatasetDetailView(APIView):
    @extend_schema_serializer(component_name="DatasetUpdateInput")
    class Input(serializers.Serializer[Any]):
        name = StrictCharField(max_length=200, required=False)
        description = StrictCharField(required=False, allow_blank=True)
        columns = _columns_field(required=False)

    @extend_schema(responses=DatasetOutput)
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(DatasetOutput(selectors.dataset_get(user=request.user, pk=dataset_id)).data)

    @extend_schema(request=Input, responses={200: DatasetOutput, **conflict(NAME_TAKEN_DOC)})
    def patch(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.EDITOR)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.dataset_update(dataset=dataset, **data.validated_data)
        return Response(_output(dataset.pk, request))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.ADMIN)
        services.dataset_delete(dataset=dataset)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(component_name="DatasetRowInput")
class RowInput(serializers.Serializer[Any]):
    values = serializers.DictField(help_text="Cell values keyed by the dataset's column names.")


class DatasetRowListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema(operation_id="datasets_rows_list", responses=RowOutput(many=True))
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
        return _paginate(request, self, selectors.dataset_rows(dataset=dataset), RowOutput)

    @extend_schema(operation_id="datasets_rows_create", request=RowInput, responses={201: RowOutput})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.EDITOR)
        data = RowInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dataset_row_add(dataset=dataset, values=data.validated_data["values"])
        return Response(RowOutput(row).data, status=status.HTTP_201_CREATED)


class DatasetRowDetailView(APIView):
    @extend_schema(responses=RowOutput)
    def get(self, request: Request, dataset_id: int, row_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
        return Response(RowOutput(selectors.dataset_row_get(dataset=dataset, pk=row_id)).data)

    @extend_schema(request=RowInput, responses=RowOutput)
    def patch(self, request: Request, dataset_id: int, row_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.EDITOR)
        row = selectors.dataset_row_get(dataset=dataset, pk=row_id)
        data = RowInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "values" in data.validated_data:
            row = services.dataset_row_update(row=row, values=data.validated_data["values"])
        return Response(RowOutput(row).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int, row_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.EDITOR)
        services.dataset_row_delete(row=selectors.dataset_row_get(dataset=dataset, pk=row_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetImportView(APIView):
    """Import a CSV, JSONL or ZIP (a CSV/JSONL plus media files) as a new dataset, or preview it (dry_run)."""

    parser_classes = [MultiPartParser]
    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "upload"

    @extend_schema_serializer(component_name="DatasetImportInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        file = serializers.FileField(allow_empty_file=True, use_url=False)
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
        description = StrictCharField(required=False, allow_blank=True, default="")
        columns = StrictCharField(
            required=False,
            allow_blank=True,
            default="",
            help_text='Column types as JSON, e.g. {"photo": "image"}; other columns are inferred.',
        )
        dry_run = serializers.BooleanField(required=False, default=False)

    Preview = inline_serializer(
        "DatasetImportPreview",
        {
            "dry_run": serializers.BooleanField(),
            "format": serializers.CharField(),
            "columns": ColumnSerializer(many=True),
            "row_count": serializers.IntegerField(),
            "preview": serializers.ListField(child=serializers.JSONField()),
            "files": serializers.ListField(child=serializers.CharField()),
            "dataset": DatasetOutput(allow_null=True),
        },
    )

    @extend_schema(
        request={"multipart/form-data": Input}, responses={200: Preview, 201: Preview, **conflict(NAME_TAKEN_DOC)}
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        dry_run = values["dry_run"]
        membership = membership_for(request.user, values["workspace"], min_role=Role.EDITOR)
        result = services.dataset_import(
            workspace=membership.workspace,
            user=request.user,
            name=values["name"],
            upload=values["file"],
            description=values["description"],
            columns=values["columns"] or None,
            dry_run=dry_run,
        )
        body = {
            "dry_run": result.dry_run,
            "format": result.format,
            "columns": result.columns,
            "row_count": result.row_count,
            "preview": result.preview,
            "files": result.files,
            "dataset": _output(result.dataset.pk, request) if result.dataset else None,
        }
        return Response(body, status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)


# =====================================================================================================
# /api/tests/: A/B tests
# Roles: viewers read tests, results and trials; editors create, change, start, cancel, delete and review.
# =====================================================================================================
@extend_schema_serializer(component_name="ABTestVariant")
class VariantOutput(serializers.ModelSerializer[Variant]):
    prompt_version_number = serializers.IntegerField(
        source="prompt_version.number", allow_null=True, default=None, read_only=True
    )

    class Meta:
        model = Variant
        fields = [
            "id",
            "name",
            "prompt",
            "label",
            "prompt_version",
            "prompt_version_number",
            "provider",
            "model",
            "params",
            "credential",
            "order",
        ]


@extend_schema_serializer(component_name="ABTestVariantInput")
class VariantInput(serializers.Serializer[Any]):
    name = StrictCharField(max_length=100)
    prompt_version = serializers.IntegerField(required=False, allow_null=True)
    prompt = serializers.IntegerField(required=False, allow_null=True)
    label = StrictCharField(max_length=50, required=False, allow_blank=True)
    provider = StrictCharField(max_length=30)
    model = StrictCharField(max_length=200)
    params = serializers.DictField(required=False, default=dict)
    credential = serializers.IntegerField(required=False, allow_null=True)


@extend_schema_serializer(component_name="ABTest")
class TestOutput(serializers.ModelSerializer[ABTest]):
    workspace = serializers.IntegerField(source="workspace_id")
    dataset = serializers.IntegerField(source="dataset_id", allow_null=True)
    snapshot = serializers.IntegerField(source="snapshot_id", allow_null=True)
    control = serializers.CharField(source="control.name", allow_null=True, default=None)
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    cost_cap = DecimalInput(max_digits=12, decimal_places=6, allow_null=True)
    cost_spent = serializers.DecimalField(max_digits=16, decimal_places=8)

    class Meta:
        model = ABTest
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "dataset",
            "snapshot",
            "repetitions",
            "evaluators",
            "pass_threshold",
            "concurrency",
            "cost_cap",
            "status",
            "reason",
            "control",
            "total_cells",
            "finished_cells",
            "failed_cells",
            "cost_spent",
            "started_at",
            "finished_at",
            "created_by",
            "created_at",
            "updated_at",
        ]


@extend_schema_serializer(component_name="ABTestListItem")
class TestListOutput(TestOutput):
    variant_count = serializers.IntegerField(read_only=True)

    class Meta(TestOutput.Meta):
        fields = [*TestOutput.Meta.fields, "variant_count"]


@extend_schema_serializer(component_name="ABTestDetail")
class TestDetailOutput(TestOutput):
    variants = serializers.SerializerMethodField()
    estimate = serializers.SerializerMethodField()

    class Meta(TestOutput.Meta):
        fields = [*TestOutput.Meta.fields, "variants", "estimate"]

    @extend_schema_field(VariantOutput(many=True))
    def get_variants(self, test: ABTest) -> Any:
        return VariantOutput(selectors.variant_list(test=test), many=True).data

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_estimate(self, test: ABTest) -> Any:
        """Calls and estimated cost while the test is a draft (null once it started)."""
        return services.abtest_estimate(test=test) if test.is_draft else None


@extend_schema_serializer(component_name="ABTestTrial")
class TrialOutput(serializers.ModelSerializer[Trial]):
    variant_name = serializers.CharField(source="variant.name", read_only=True)
    cost = serializers.DecimalField(max_digits=16, decimal_places=8)

    class Meta:
        model = Trial
        fields = [
            "id",
            "variant",
            "variant_name",
            "row_index",
            "repetition",
            "status",
            "output",
            "error",
            "input_tokens",
            "output_tokens",
            "cost",
            "latency_ms",
            "ttft_ms",
            "run",
            "evaluation",
            "score",
            "passed",
            "attempts",
            "started_at",
            "finished_at",
        ]


@extend_schema_serializer(component_name="ABTestReview")
class ReviewOutput(serializers.ModelSerializer[Review]):
    class Meta:
        model = Review
        fields = ["id", "trial_a", "trial_b", "choice", "rating", "sides", "created_at"]


def _test_detail(test_id: int, request: Request) -> dict[str, Any]:
    return TestDetailOutput(selectors.abtest_get(user=request.user, pk=test_id)).data  # type: ignore[return-value]


class TestListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema_serializer(component_name="ABTestCreateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = StrictCharField(max_length=200)
        description = StrictCharField(required=False, allow_blank=True, default="")
        dataset = serializers.IntegerField()
        variants = serializers.ListField(child=VariantInput(), min_length=2, max_length=10)
        control = serializers.IntegerField(required=False, default=0, help_text="Index of the control variant.")
        repetitions = serializers.IntegerField(
            required=False, default=1, min_value=1, max_value=services.MAX_REPETITIONS
        )
        evaluators = serializers.ListField(child=serializers.DictField(), required=False, default=list)
        pass_threshold = serializers.FloatField(required=False, default=1.0, min_value=0, max_value=1)
        concurrency = serializers.IntegerField(
            required=False, default=8, min_value=1, max_value=services.MAX_CONCURRENCY
        )
        cost_cap = DecimalInput(max_digits=12, decimal_places=6, required=False, allow_null=True)

    @extend_schema(
        operation_id="tests_list",
        parameters=[
            OpenApiParameter("workspace", int),
            OpenApiParameter("status", str),
            OpenApiParameter("search", str),
        ],
        responses=TestListOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        tests = selectors.abtest_list(
            user=request.user,
            workspace_id=params.get("workspace") or None,
            status=params.get("status", ""),
            search=params.get("search", ""),
        )
        return _paginate(request, self, tests, TestListOutput)

    @extend_schema(operation_id="tests_create", request=Input, responses={201: TestDetailOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        membership = membership_for(request.user, values.pop("workspace"), min_role=Role.EDITOR)
        test = services.abtest_create(workspace=membership.workspace, user=request.user, **values)
        return Response(_test_detail(test.pk, request), status=status.HTTP_201_CREATED)


class TestDetailView(APIView):
    @extend_schema_serializer(component_name="ABTestUpdateInput")
    class Input(serializers.Serializer[Any]):
        name = StrictCharField(max_length=200, required=False)
        description = StrictCharField(required=False, allow_blank=True)
        dataset = serializers.IntegerField(required=False)
        variants = serializers.ListField(child=VariantInput(), required=False, min_length=2, max_length=10)
        control = serializers.IntegerField(required=False)
        repetitions = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_REPETITIONS)
        evaluators = serializers.ListField(child=serializers.DictField(), required=False)
        pass_threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
        concurrency = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_CONCURRENCY)
        cost_cap = DecimalInput(max_digits=12, decimal_places=6, required=False, allow_null=True)

    @extend_schema(operation_id="tests_retrieve", responses=TestDetailOutput)
    def get(self, request: Request, test_id: int) -> Response:
        return Response(_test_detail(test_id, request))

    @extend_schema(
        operation_id="tests_partial_update",
        request=Input,
        responses={200: TestDetailOutput, **conflict("Only a draft test can be changed.")},
    )
    def patch(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id, min_role=Role.EDITOR)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.abtest_update(test=test, **data.validated_data)
        return Response(_test_detail(test.pk, request))

    @extend_schema(operation_id="tests_destroy", responses={204: None, **conflict(services.TEST_RUNNING_DELETE)})
    def delete(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id, min_role=Role.EDITOR)
        services.abtest_delete(test=test)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TestEstimateView(APIView):
    Estimate = inline_serializer(
        "ABTestEstimate",
        {
            "rows": serializers.IntegerField(),
            "variants": serializers.IntegerField(),
            "repetitions": serializers.IntegerField(),
            "cells": serializers.IntegerField(),
            "calls": serializers.IntegerField(),
            "judge_calls": serializers.IntegerField(),
            "estimated_cost": serializers.CharField(),
            "per_variant": serializers.ListField(child=serializers.JSONField()),
            "problems": serializers.ListField(child=serializers.CharField()),
            "note": serializers.CharField(),
        },
    )

    @extend_schema(operation_id="tests_estimate", responses=Estimate)
    def get(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id)
        return Response(services.abtest_estimate(test=test))


class TestStartView(APIView):
    @extend_schema(
        operation_id="tests_start",
        request=None,
        responses={202: TestDetailOutput, **conflict("The test is not a draft, or its dataset is gone or empty.")},
    )
    def post(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id, min_role=Role.EDITOR)
        services.abtest_start(test=test, user=request.user)
        return Response(_test_detail(test.pk, request), status=status.HTTP_202_ACCEPTED)


class TestCancelView(APIView):
    @extend_schema(
        operation_id="tests_cancel",
        request=None,
        responses={200: TestDetailOutput, **conflict("Only a queued or running test can be cancelled.")},
    )
    def post(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id, min_role=Role.EDITOR)
        services.abtest_cancel(test=test)
        return Response(_test_detail(test.pk, request))


class TestResultsView(APIView):
    @extend_schema(operation_id="tests_results", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, test_id: int) -> Response:
        """Per-variant figures, the comparison with the control (p-values, effect sizes, verdict) and progress."""
        from abtests.results import test_results

        test = selectors.abtest_get(user=request.user, pk=test_id)
        return Response(test_results(test))


class TestTrialListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema(
        operation_id="tests_trials_list",
        parameters=[
            OpenApiParameter("variant", int),
            OpenApiParameter("status", str, enum=TrialStatus.values),
            OpenApiParameter("passed", bool),
        ],
        responses=TrialOutput(many=True),
    )
    def get(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id)
        params = request.query_params
        trials = selectors.trial_list(
            test=test, variant=params.get("variant"), status=params.get("status", ""), passed=params.get("passed")
        )
        return _paginate(request, self, trials, TrialOutput)


class TestReviewListView(APIView):
    @extend_schema_serializer(component_name="ABTestReviewInput")
    class Input(serializers.Serializer[Any]):
        trial_a = serializers.IntegerField()
        trial_b = serializers.IntegerField(required=False, allow_null=True)
        choice = serializers.ChoiceField(choices=ReviewChoice.choices, required=False, allow_blank=True, default="")
        rating = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
        sides = serializers.DictField(required=False, default=dict)

    @extend_schema(
        operation_id="tests_reviews_create",
        request=Input,
        responses={201: ReviewOutput, **conflict("The trial has no output yet.")},
    )
    def post(self, request: Request, test_id: int) -> Response:
        test = selectors.abtest_get(user=request.user, pk=test_id, min_role=Role.EDITOR)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(test=test, reviewer=request.user, **data.validated_data)
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)
