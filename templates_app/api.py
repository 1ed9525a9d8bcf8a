"""/api/templates/: thin views over templates_app.selectors/services and the access module."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from prompts.models import Prompt
from studio.api import Pagination, StrictCharField
from studio.openapi import conflict
from studio.permissions import get_object_for_user, membership_for
from templates_app import selectors, services
from templates_app.models import Category, Template

NO_SUCH_VERSION = "This prompt has no version {number}."
SLUG_VALIDATOR = RegexValidator(services.SLUG_PATTERN, services.SLUG_INVALID)
SLUG_TAKEN_DOC = "The workspace already has a template with this slug."


class CategoryOutput(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["id", "slug", "name", "description", "order"]


class CategoryCountOutput(CategoryOutput):
    template_count = serializers.IntegerField()

    class Meta(CategoryOutput.Meta):
        fields = [*CategoryOutput.Meta.fields, "template_count"]


class TemplateOutput(serializers.ModelSerializer[Template]):
    category = CategoryOutput()
    author = serializers.SerializerMethodField()
    variables = serializers.JSONField(read_only=True)
    media_kinds = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Template
        fields = [
            "id",
            "workspace",
            "is_starter",
            "category",
            "name",
            "slug",
            "description",
            "content",
            "variables",
            "media_kinds",
            "tags",
            "author",
            "created_at",
            "updated_at",
        ]

    def get_author(self, template: Template) -> str | None:
        return template.author.email if template.author else None


def _template_for_write(user: User, pk: int, *, min_role: str) -> Template:
    """A template the user may change: 404 if they can't see it, 403 for starters or a role too low."""
    template = selectors.template_get(user=user, pk=pk)
    if template.is_starter:
        raise PermissionDenied(services.STARTER_READ_ONLY)
    membership_for(user, template.workspace_id, min_role=min_role)
    return template


def _workspace_param(request: Request) -> Any:
    value = request.query_params.get("workspace")
    if value in (None, ""):
        return None
    return membership_for(request.user, value).workspace


class TemplateListView(APIView):
    """Starters plus the templates of your workspaces (or of ``?workspace=``); create a workspace template."""

    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema_serializer(component_name="TemplateCreateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = StrictCharField(max_length=120)
        slug = StrictCharField(
            max_length=140, required=False, allow_blank=True, trim_whitespace=False, validators=[SLUG_VALIDATOR]
        )
        description = StrictCharField(required=False, allow_blank=True, default="")
        category = StrictCharField(required=False, default="other", help_text="A category slug.")
        content = serializers.DictField(help_text="The prompt document (messages, variables, model).")
        tags = serializers.ListField(child=StrictCharField(), required=False, default=list)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "workspace", OpenApiTypes.INT, description="Only this workspace's templates (+ starters)."
            ),
            OpenApiParameter("category", OpenApiTypes.STR, description="A category slug."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Words to find in name, description or tags."),
        ],
        responses=TemplateOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        templates = selectors.template_list(
            user=request.user,
            workspace=_workspace_param(request),
            category=request.query_params.get("category") or None,
            search=request.query_params.get("search", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(templates, request, view=self)
        return paginator.get_paginated_response(TemplateOutput(page, many=True).data)

    @extend_schema(request=Input, responses={201: TemplateOutput, **conflict(SLUG_TAKEN_DOC)})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        membership = membership_for(request.user, fields.pop("workspace"), min_role=Role.EDITOR)
        template = services.template_create(workspace=membership.workspace, user=request.user, **fields)
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailView(APIView):
    @extend_schema_serializer(component_name="TemplateUpdateInput")
    class Input(serializers.Serializer[Any]):
        name = StrictCharField(max_length=120, required=False)
        slug = StrictCharField(max_length=140, required=False, trim_whitespace=False, validators=[SLUG_VALIDATOR])
        description = StrictCharField(required=False, allow_blank=True)
        category = StrictCharField(required=False, help_text="A category slug.")
        content = serializers.DictField(required=False, help_text="The prompt document (messages, variables, model).")
        tags = serializers.ListField(child=StrictCharField(), required=False)

    @extend_schema(responses=TemplateOutput)
    def get(self, request: Request, template_id: int) -> Response:
        return Response(TemplateOutput(selectors.template_get(user=request.user, pk=template_id)).data)

    @extend_schema(request=Input, responses={200: TemplateOutput, **conflict(SLUG_TAKEN_DOC)})
    def patch(self, request: Request, template_id: int) -> Response:
        template = _template_for_write(request.user, template_id, min_role=Role.EDITOR)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = services.template_update(template=template, **data.validated_data)
        return Response(TemplateOutput(template).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, template_id: int) -> Response:
        template = _template_for_write(request.user, template_id, min_role=Role.ADMIN)
        services.template_delete(template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromptCreatedOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    workspace = serializers.IntegerField(source="workspace_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    version = serializers.SerializerMethodField()

    def get_version(self, prompt: Prompt) -> int | None:
        """The number of the prompt's latest version (1 for a prompt made from a template)."""
        return prompt.versions.order_by("-number").values_list("number", flat=True).first()  # type: ignore[no-any-return]


class TemplateInstantiateView(APIView):
    """Use a template: make a new prompt (with version 1) in a workspace where you are an editor."""

    @extend_schema_serializer(component_name="TemplateInstantiateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={201: PromptCreatedOutput})
    def post(self, request: Request, template_id: int) -> Response:
        template = selectors.template_get(user=request.user, pk=template_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_for(request.user, data.validated_data["workspace"], min_role=Role.EDITOR)
        prompt = services.template_instantiate(
            template=template, workspace=membership.workspace, user=request.user, name=data.validated_data["name"]
        )
        return Response(PromptCreatedOutput(prompt).data, status=status.HTTP_201_CREATED)


class TemplateFromVersionView(APIView):
    """Save as template: a prompt version's content becomes a template in the prompt's workspace."""

    @extend_schema_serializer(component_name="TemplateFromVersionInput")
    class Input(serializers.Serializer[Any]):
        prompt = serializers.IntegerField()
        version = serializers.IntegerField(min_value=1)
        name = StrictCharField(max_length=120)
        category = StrictCharField(required=False, default="other", help_text="A category slug.")
        description = StrictCharField(required=False, allow_blank=True)
        tags = serializers.ListField(child=StrictCharField(), required=False)
        slug = StrictCharField(
            max_length=140, required=False, allow_blank=True, trim_whitespace=False, validators=[SLUG_VALIDATOR]
        )

    @extend_schema(request=Input, responses={201: TemplateOutput, **conflict(SLUG_TAKEN_DOC)})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        prompt = get_object_for_user(Prompt.objects.all(), request.user, min_role=Role.EDITOR, pk=fields.pop("prompt"))
        number = fields.pop("version")
        version = prompt.versions.filter(number=number).select_related("prompt__workspace").first()
        if version is None:
            raise Http404(NO_SUCH_VERSION.format(number=number))
        template = services.template_from_version(version=version, user=request.user, **fields)
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class CategoryListView(APIView):
    """The gallery's categories, each with how many templates you can see in it."""

    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", OpenApiTypes.INT, description="Count only this workspace (+ starters).")
        ],
        responses=inline_serializer("CategoryList", {"results": CategoryCountOutput(many=True)}),
    )
    def get(self, request: Request) -> Response:
        categories = selectors.category_list(user=request.user, workspace=_workspace_param(request))
        return Response({"results": CategoryCountOutput(categories, many=True).data})
