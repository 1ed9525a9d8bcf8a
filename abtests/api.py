"""/api/datasets/: thin DRF views over abtests.services and abtests.selectors.

Roles: viewers read; editors create, change, import and edit rows; admins delete datasets.
Another workspace's dataset is a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from abtests import selectors, services
from abtests.models import COLUMN_TYPES, Dataset, DatasetRow
from accounts.models import Role
from studio.api import Pagination
from studio.permissions import membership_for


@extend_schema_serializer(component_name="DatasetColumn")
class ColumnSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=COLUMN_TYPES, default="text")


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


def _paginate(
    request: Request, view: APIView, queryset: Any, serializer: type[serializers.Serializer[Any]]
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _output(dataset_id: int, request: Request) -> dict[str, Any]:
    return DatasetOutput(selectors.dataset_get(user=request.user, pk=dataset_id)).data  # type: ignore[return-value]


class DatasetListView(APIView):
    @extend_schema_serializer(component_name="DatasetCreateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        columns = serializers.JSONField(required=False, default=list)
        rows = serializers.ListField(child=serializers.JSONField(), required=False, default=list)

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

    @extend_schema(operation_id="datasets_create", request=Input, responses={201: DatasetOutput})
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
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        columns = serializers.JSONField(required=False)

    @extend_schema(responses=DatasetOutput)
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(DatasetOutput(selectors.dataset_get(user=request.user, pk=dataset_id)).data)

    @extend_schema(request=Input, responses=DatasetOutput)
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
    values = serializers.JSONField()


class DatasetRowListView(APIView):
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
        data = RowInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dataset_row_update(row=row, values=data.validated_data["values"])
        return Response(RowOutput(row).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int, row_id: int) -> Response:
        dataset = selectors.dataset_get(user=request.user, pk=dataset_id, min_role=Role.EDITOR)
        services.dataset_row_delete(row=selectors.dataset_row_get(dataset=dataset, pk=row_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetImportView(APIView):
    """Import a CSV, JSONL or ZIP (a CSV/JSONL plus media files) as a new dataset, or preview it (dry_run)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="DatasetImportInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        file = serializers.FileField(allow_empty_file=True, use_url=False)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        description = serializers.CharField(required=False, allow_blank=True, default="")
        columns = serializers.CharField(
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

    @extend_schema(request={"multipart/form-data": Input}, responses={200: Preview, 201: Preview})
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
