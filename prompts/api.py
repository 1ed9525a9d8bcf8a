"""/api/prompts/ and /api/assets/: thin views over prompts.services / prompts.selectors.

Roles: viewers read (and render); editors create, change, save versions and move labels;
admins delete. Another workspace's prompt, version or asset is a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from prompts import selectors, services
from prompts.models import LABEL_NAME_RE, Asset, AssetKind, Label, Prompt, PromptVersion
from prompts.services import SLUG_INPUT_PATTERN, SLUG_INVALID, SLUG_RE, SLUG_TAKEN
from studio.api import Pagination, StrictCharField
from studio.openapi import conflict, request_rule
from studio.permissions import get_object_for_user, membership_for
from studio.throttling import WriteScopedRateThrottle

FROM_TO_REQUIRED = "Give two version numbers: ?from=N&to=M."
NAME_REQUIRED = "Give the prompt's slug: ?name=SLUG."
WORKSPACE_REQUIRED = "Give the workspace id: ?workspace=W."
ONE_SELECTOR = "Give at most one of label, version or content."
NO_THUMBNAIL = "This asset has no thumbnail."
BAD_BOOLEAN = "archived must be true, false or all."
BAD_SORT = f"sort must be one of {', '.join(selectors.SORTS)}."
# What _archived_param takes (any case, surrounding spaces ignored); the schema lists the plain spellings.
ARCHIVED_VALUES = ["false", "true", "all", "any", "0", "1", "no", "yes", ""]  # "" (archived=): the default
SLUG_VALIDATOR = RegexValidator(SLUG_INPUT_PATTERN, SLUG_INVALID)
LABEL_PARAMETER = OpenApiParameter(
    "label", str, OpenApiParameter.PATH, pattern=LABEL_NAME_RE.pattern, description="A label name, e.g. production."
)


# --- output serializers ------------------------------------------------------------------------------


class UserRef(serializers.Serializer[User]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


class PromptOutput(serializers.ModelSerializer[Prompt]):
    author = UserRef(allow_null=True)
    latest_version = serializers.IntegerField(allow_null=True, read_only=True)
    labels = serializers.SerializerMethodField()

    class Meta:
        model = Prompt
        fields = [
            "id",
            "workspace",
            "name",
            "slug",
            "description",
            "tags",
            "archived",
            "author",
            "created_at",
            "updated_at",
            "latest_version",
            "labels",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_labels(self, prompt: Prompt) -> dict[str, int]:
        """Label name -> version number."""
        return {label.name: label.version.number for label in prompt.labels.all()}


class VersionOutput(serializers.ModelSerializer[PromptVersion]):
    workspace = serializers.IntegerField(source="prompt.workspace_id")
    author = UserRef(allow_null=True)
    model = serializers.JSONField(source="model_settings")
    labels = serializers.SerializerMethodField()

    class Meta:
        model = PromptVersion
        fields = [
            "id",
            "prompt",
            "workspace",
            "number",
            "message",
            "author",
            "created_at",
            "content_hash",
            "variables",
            "model",
            "labels",
        ]

    def get_labels(self, version: PromptVersion) -> list[str]:
        return [label.name for label in version.labels.all()]


class VersionDetailOutput(VersionOutput):
    class Meta(VersionOutput.Meta):
        fields = [*VersionOutput.Meta.fields, "content"]


class LabelOutput(serializers.ModelSerializer[Label]):
    version = serializers.IntegerField(source="version.number")
    updated_by = UserRef(allow_null=True)

    class Meta:
        model = Label
        fields = ["name", "version", "updated_by", "updated_at"]


class AssetOutput(serializers.ModelSerializer[Asset]):
    content_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "workspace",
            "kind",
            "mime_type",
            "size",
            "sha256",
            "width",
            "height",
            "page_count",
            "duration",
            "original_name",
            "created_at",
            "content_url",
            "thumbnail_url",
        ]

    def get_content_url(self, asset: Asset) -> str:
        return reverse("api:asset-content", args=[asset.pk])

    def get_thumbnail_url(self, asset: Asset) -> str | None:
        return f"{reverse('api:asset-content', args=[asset.pk])}?thumbnail=1" if asset.thumbnail else None


# --- helpers -------------------------------------------------------------------------------------------


def _prompt_for(request: Request, prompt_id: int, min_role: str = Role.VIEWER) -> Prompt:
    return get_object_for_user(Prompt.objects.all(), request.user, min_role=min_role, pk=prompt_id)


def _paginate(
    request: Request, view: APIView, queryset: Any, serializer: type[serializers.Serializer[Any]]
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _sort_param(raw: str | None) -> str:
    if raw is None:
        return selectors.DEFAULT_SORT
    if raw not in selectors.SORTS:
        raise serializers.ValidationError({"sort": [BAD_SORT]})
    return raw


def _archived_param(raw: str | None) -> bool | None:
    value = (raw or "false").strip().lower()
    if value in ("all", "any"):
        return None
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise serializers.ValidationError({"archived": [BAD_BOOLEAN]})


# --- prompts -------------------------------------------------------------------------------------------


class PromptListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema_serializer(component_name="PromptCreateInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        name = StrictCharField(max_length=200)
        slug = StrictCharField(
            max_length=100, required=False, allow_blank=True, trim_whitespace=False, validators=[SLUG_VALIDATOR]
        )
        description = StrictCharField(required=False, allow_blank=True, default="")
        tags = serializers.ListField(child=StrictCharField(allow_blank=True), required=False, default=list)
        content = serializers.JSONField(required=False, allow_null=True, default=None)
        message = StrictCharField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", int),
            OpenApiParameter("search", str),
            OpenApiParameter("tag", str),
            OpenApiParameter("label", str),
            OpenApiParameter("archived", str, enum=ARCHIVED_VALUES, description="false (default), true or all"),
            OpenApiParameter("sort", str, enum=list(selectors.SORTS)),
        ],
        responses=PromptOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        workspace_id = None
        if params.get("workspace"):
            workspace_id = membership_for(request.user, params["workspace"]).workspace_id
        prompts = selectors.prompt_list(
            user=request.user,
            workspace_id=workspace_id,
            search=params.get("search", ""),
            tag=params.get("tag", ""),
            label=params.get("label", ""),
            archived=_archived_param(params.get("archived")),
            sort=_sort_param(params.get("sort")),
        )
        return _paginate(request, self, prompts, PromptOutput)

    @extend_schema(request=Input, responses={201: PromptOutput, **conflict(SLUG_TAKEN)})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        membership = membership_for(request.user, values.pop("workspace"), min_role=Role.EDITOR)
        prompt = services.prompt_create(workspace=membership.workspace, user=request.user, **values)
        return Response(PromptOutput(selectors.prompt_get(pk=prompt.pk)).data, status=status.HTTP_201_CREATED)


class PromptDetailView(APIView):
    @extend_schema_serializer(component_name="PromptUpdateInput")
    class Input(serializers.Serializer[Any]):
        name = StrictCharField(max_length=200, required=False)
        slug = StrictCharField(max_length=100, required=False, trim_whitespace=False, validators=[SLUG_VALIDATOR])
        description = StrictCharField(required=False, allow_blank=True)
        tags = serializers.ListField(child=StrictCharField(allow_blank=True), required=False)
        archived = serializers.BooleanField(required=False)

    @extend_schema(responses=PromptOutput)
    def get(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id)
        return Response(PromptOutput(selectors.prompt_get(pk=prompt.pk)).data)

    @extend_schema(request=Input, responses={200: PromptOutput, **conflict(SLUG_TAKEN)})
    def patch(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.prompt_update(prompt=prompt, **data.validated_data)
        return Response(PromptOutput(selectors.prompt_get(pk=prompt.pk)).data)

    @extend_schema(responses={204: None, **conflict("The prompt is still used (by an A/B test); archive it instead.")})
    def delete(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id, Role.ADMIN)
        services.prompt_delete(prompt=prompt)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromptDuplicateView(APIView):
    @extend_schema_serializer(component_name="PromptDuplicateInput")
    class Input(serializers.Serializer[Any]):
        name = StrictCharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=Input, responses={201: PromptOutput})
    def post(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.prompt_duplicate(prompt=prompt, user=request.user, name=data.validated_data.get("name") or None)
        return Response(PromptOutput(selectors.prompt_get(pk=copy.pk)).data, status=status.HTTP_201_CREATED)


# --- versions ------------------------------------------------------------------------------------------

VersionCreated = inline_serializer(
    "VersionCreated", {"created": serializers.BooleanField(), "version": VersionDetailOutput()}
)


class VersionListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)

    @extend_schema_serializer(component_name="VersionCreateInput")
    class Input(serializers.Serializer[Any]):
        content = serializers.DictField(help_text="The prompt document (messages, variables, model).")
        message = StrictCharField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(responses=VersionOutput(many=True))
    def get(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id)
        return _paginate(request, self, selectors.version_list(prompt=prompt), VersionOutput)

    @extend_schema(request=Input, responses={201: VersionCreated, 200: VersionCreated})
    def post(self, request: Request, prompt_id: int) -> Response:
        """Save a new version; identical content returns the latest version with ``created: false``."""
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        version, created = services.version_create(prompt=prompt, user=request.user, **data.validated_data)
        version = selectors.version_get(prompt=prompt, number=version.number)
        return Response(
            {"created": created, "version": VersionDetailOutput(version).data},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VersionDetailView(APIView):
    """Versions are immutable: only GET (PUT, PATCH and DELETE answer 405)."""

    @extend_schema(responses=VersionDetailOutput)
    def get(self, request: Request, prompt_id: int, number: int) -> Response:
        prompt = _prompt_for(request, prompt_id)
        return Response(VersionDetailOutput(selectors.version_get(prompt=prompt, number=number)).data)


class VersionRestoreView(APIView):
    @extend_schema(request=None, responses={201: VersionCreated, 200: VersionCreated})
    def post(self, request: Request, prompt_id: int, number: int) -> Response:
        """Save version ``number``'s content as a new version ("Restore version N")."""
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        selectors.version_get(prompt=prompt, number=number)  # 404 for a missing number
        version, created = services.version_restore(prompt=prompt, number=number, user=request.user)
        version = selectors.version_get(prompt=prompt, number=version.number)
        return Response(
            {"created": created, "version": VersionDetailOutput(version).data},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DiffView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, prompt_id: int) -> Response:
        prompt = _prompt_for(request, prompt_id)
        old, new = request.query_params.get("from"), request.query_params.get("to")
        if not old or not new:
            raise serializers.ValidationError({"from": [FROM_TO_REQUIRED]})
        diff = selectors.version_diff(
            old=selectors.version_get(prompt=prompt, number=old), new=selectors.version_get(prompt=prompt, number=new)
        )
        return Response(diff)


# --- labels --------------------------------------------------------------------------------------------


class LabelListView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "LabelsAndHistory", {"labels": LabelOutput(many=True), "history": serializers.ListField()}
        )
    )
    def get(self, request: Request, prompt_id: int) -> Response:
        """The labels and their history (who moved which label, when, from and to which version)."""
        prompt = _prompt_for(request, prompt_id)
        history = [
            {
                "label": move.label,
                "from_version": move.from_version.number if move.from_version else None,
                "to_version": move.to_version.number if move.to_version else None,
                "actor": UserRef(move.actor).data if move.actor else None,
                "at": serializers.DateTimeField().to_representation(move.at),
            }
            for move in selectors.label_move_list(prompt=prompt)
        ]
        return Response(
            {"labels": LabelOutput(selectors.label_list(prompt=prompt), many=True).data, "history": history}
        )


class LabelDetailView(APIView):
    @extend_schema_serializer(component_name="LabelSetInput")
    class Input(serializers.Serializer[Any]):
        version = serializers.IntegerField(min_value=1)

    @extend_schema(parameters=[LABEL_PARAMETER], request=Input, responses=LabelOutput)
    def put(self, request: Request, prompt_id: int, label: str) -> Response:
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        obj = services.label_set(prompt=prompt, name=label, version=data.validated_data["version"], user=request.user)
        return Response(LabelOutput(obj).data)

    @extend_schema(parameters=[LABEL_PARAMETER], responses={204: None})
    def delete(self, request: Request, prompt_id: int, label: str) -> Response:
        prompt = _prompt_for(request, prompt_id, Role.EDITOR)
        services.label_delete(prompt=prompt, name=label, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- resolve and render --------------------------------------------------------------------------------


class ResolveOutput(VersionDetailOutput):
    prompt_name = serializers.CharField(source="prompt.name")
    slug = serializers.CharField(source="prompt.slug")

    class Meta(VersionDetailOutput.Meta):
        fields = [*VersionDetailOutput.Meta.fields, "prompt_name", "slug"]


class ResolveView(APIView):
    """The version a label or number points at, with its content. ETag / If-None-Match -> 304."""

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", int, required=True),
            OpenApiParameter("name", str, required=True, pattern=SLUG_RE.pattern, description="the prompt's slug"),
            OpenApiParameter("label", str, pattern=LABEL_NAME_RE.pattern),
            OpenApiParameter("version", int),
        ],
        responses={200: ResolveOutput, 304: None},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        params = request.query_params
        if not params.get("workspace"):
            raise serializers.ValidationError({"workspace": [WORKSPACE_REQUIRED]})
        if not params.get("name"):
            raise serializers.ValidationError({"name": [NAME_REQUIRED]})
        membership = membership_for(request.user, params["workspace"])
        version = selectors.prompt_resolve(
            workspace_id=membership.workspace_id,
            slug=params["name"],
            label=params.get("label") or None,
            version=params.get("version") or None,
        )
        etag = version.etag
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if_none_match = request.headers.get("If-None-Match", "")
        if if_none_match:
            tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
            if "*" in tags or etag in tags:
                return HttpResponse(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        version = selectors.version_get(prompt=version.prompt, number=version.number)
        return Response(ResolveOutput(version).data, headers=headers)


# ONE_SELECTOR in the schema: no two of label (unless blank: it is trimmed), version and content
_GIVEN_LABEL = {"required": ["label"], "properties": {"label": {"pattern": r"\S"}}}
request_rule(
    "RenderInputRequest",
    **{
        "not": {
            "anyOf": [
                {"required": ["version", "content"]},
                {"allOf": [_GIVEN_LABEL, {"required": ["version"]}]},
                {"allOf": [_GIVEN_LABEL, {"required": ["content"]}]},
            ]
        }
    },
)


class RenderView(APIView):
    @extend_schema_serializer(component_name="RenderInput")
    class Input(serializers.Serializer[Any]):
        label = StrictCharField(required=False, allow_blank=True)
        version = serializers.IntegerField(required=False, min_value=1)
        content = serializers.DictField(required=False, help_text="A draft to render instead of a saved version.")
        variables = serializers.DictField(required=False, default=dict)

    @extend_schema(
        request=Input,
        responses=inline_serializer(
            "Rendered",
            {
                "prompt": serializers.IntegerField(),
                "version": serializers.IntegerField(allow_null=True),
                "messages": serializers.ListField(child=serializers.DictField()),
                "model": serializers.DictField(),
            },
        ),
    )
    def post(self, request: Request, prompt_id: int) -> Response:
        """Render a version (by label, number, or the latest) or a draft with variable values."""
        from prompts.content import validate_content

        prompt = _prompt_for(request, prompt_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        given = [key for key in ("label", "version", "content") if values.get(key) not in (None, "")]
        if len(given) > 1:
            raise serializers.ValidationError({"detail": [ONE_SELECTOR]})
        number: int | None = None
        if "content" in given:
            document = validate_content(values["content"], workspace_id=prompt.workspace_id)
        else:
            version = selectors.prompt_resolve(
                workspace_id=prompt.workspace_id,
                slug=prompt.slug,
                label=values.get("label") or None,
                version=values.get("version"),
            )
            document, number = version.content, version.number
        rendered = selectors.render_checked(
            document=document, workspace_id=prompt.workspace_id, values=values.get("variables") or {}
        )
        return Response({"prompt": prompt.pk, "version": number, **rendered})


# --- assets --------------------------------------------------------------------------------------------


class AssetListView(APIView):
    pagination_class = Pagination  # documents the page envelope (paginated by hand)
    parser_classes = [MultiPartParser]
    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "upload"

    @extend_schema_serializer(component_name="AssetUploadInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        file = serializers.FileField(allow_empty_file=True, use_url=False)

    @extend_schema(
        parameters=[OpenApiParameter("workspace", int), OpenApiParameter("kind", str, enum=AssetKind.values)],
        responses=AssetOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        workspace_id = (
            membership_for(request.user, params["workspace"]).workspace_id if params.get("workspace") else None
        )
        kind = params.get("kind", "")
        if kind and kind not in AssetKind.values:
            raise serializers.ValidationError({"kind": [f"kind must be one of {', '.join(AssetKind.values)}."]})
        return _paginate(
            request, self, selectors.asset_list(user=request.user, workspace_id=workspace_id, kind=kind), AssetOutput
        )

    @extend_schema(request=Input, responses={201: AssetOutput, 200: AssetOutput})
    def post(self, request: Request) -> Response:
        """Upload a file (multipart ``file`` + ``workspace``); the same bytes again return the existing asset."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_for(request.user, data.validated_data["workspace"], min_role=Role.EDITOR)
        asset, created = services.asset_create(
            workspace=membership.workspace, user=request.user, upload=data.validated_data["file"]
        )
        return Response(AssetOutput(asset).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _asset_for(request: Request, asset_id: Any) -> Asset:
    return get_object_for_user(Asset.objects.all(), request.user, pk=asset_id)


class AssetDetailView(APIView):
    @extend_schema(responses=AssetOutput)
    def get(self, request: Request, asset_id: str) -> Response:
        return Response(AssetOutput(_asset_for(request, asset_id)).data)


class PassThroughNegotiation(BaseContentNegotiation):
    """File downloads ignore the client's Accept header (errors are still JSON)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class AssetContentView(APIView):
    """The stored bytes, for members only, with the real type, ``nosniff`` and a safe disposition."""

    content_negotiation_class = PassThroughNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("thumbnail", bool)],
        # The stored file's real type: images (thumbnails are WebP), WAV/MP3 audio, PDF.
        responses={(200, media): OpenApiTypes.BINARY for media in ("image/*", "audio/*", "application/pdf")},
    )
    def get(self, request: Request, asset_id: str) -> FileResponse:
        asset = _asset_for(request, asset_id)
        stem = (asset.original_name.rsplit(".", 1)[0] if asset.original_name else "") or asset.sha256[:12]
        if request.query_params.get("thumbnail") in ("1", "true", "yes"):
            if not asset.thumbnail:
                raise Http404(NO_THUMBNAIL)
            handle, content_type, filename, inline = (
                asset.thumbnail.open("rb"),
                "image/webp",
                f"{stem}-thumbnail.webp",
                True,
            )
        else:
            handle, content_type, filename, inline = (
                asset.file.open("rb"),
                asset.mime_type,
                f"{stem}.{asset.extension}",
                asset.is_image,
            )
        response = FileResponse(handle, content_type=content_type, as_attachment=not inline, filename=filename)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["Cache-Control"] = "private, max-age=3600"
        return response
