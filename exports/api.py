"""/api/exports/...: downloads of prompts, templates, datasets, A/B tests, runs and whole workspaces,
code snippets, and imports (with a dry-run preview).

Viewers may export; importing needs an editor. Another workspace's object is a 404.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from exports import exporters, services
from exports.formats import MEDIA_MODES, ImportRefused
from exports.snippets import LANGS, SNIPPET_MEDIA, snippet_for
from studio.permissions import get_object_for_user, membership_for
from studio.throttling import WriteScopedRateThrottle

BAD_VERSIONS = "versions must be all or a version number."
VERSIONS_PATTERN = r"^(?:all|[0-9]+)?$"
NO_SUCH_VERSION = "This prompt has no version {number}."
NO_VERSIONS = "This prompt has no versions yet."
BAD_VARIABLES = 'variables must be a JSON object such as {"subject": "a cat"}.'
WORKSPACE_REQUIRED = "workspace is required."


class FileNegotiation(BaseContentNegotiation):
    """Downloads ignore ``?format=`` and Accept for renderer choice (errors are still JSON)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        for parser in parsers:
            if request.content_type and request.content_type.startswith(parser.media_type.split(";")[0]):
                return parser
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return (renderers[0], renderers[0].media_type)


def file_response(export: exporters.ExportFile) -> HttpResponse:
    response = HttpResponse(export.data, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """The parameter's value, or ``default`` when it is absent (an empty value is not a choice)."""
    value = request.query_params.get(name, default)
    if value not in choices:
        raise serializers.ValidationError({name: [f"{name} must be one of {', '.join(choices)}."]})
    return value


def _refused(exc: ImportRefused, field: str = "file") -> serializers.ValidationError:
    return serializers.ValidationError({field: [exc.text]})


def file_responses(*formats: str) -> dict[tuple[int, str], Any]:
    """A download's real media types, one per format it can come in (JSON and YAML documents are objects)."""
    return {
        (200, exporters.CONTENT_TYPES[fmt].split(";")[0]): (
            OpenApiTypes.OBJECT if fmt in ("json", "yaml") else OpenApiTypes.BINARY
        )
        for fmt in formats
    }


# Every document export is a ZIP instead with archive media.
DOCUMENT_FILES = file_responses("json", "yaml", "zip")
TABLE_AND_DOCUMENT_FILES = file_responses("csv", "jsonl", "json", "yaml", "zip")
MEDIA_PARAM = OpenApiParameter("media", str, enum=list(MEDIA_MODES), description="How media travel (default data-url).")


class PromptExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["json", "yaml"]),
            OpenApiParameter(
                "versions", str, pattern=VERSIONS_PATTERN, description="all (default) or a version number"
            ),
            MEDIA_PARAM,
        ],
        responses=DOCUMENT_FILES,
    )
    def get(self, request: Request, prompt_id: int) -> HttpResponse:
        """A prompt with all its versions, labels and label history, or one version with its labels."""
        from prompts.models import Prompt

        prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=prompt_id)
        fmt = _choice(request, "format", exporters.DOCUMENT_FORMATS, "json")
        media = _choice(request, "media", MEDIA_MODES, "data-url")
        versions = request.query_params.get("versions") or "all"
        if not re.fullmatch(VERSIONS_PATTERN, versions):
            raise serializers.ValidationError({"versions": [BAD_VERSIONS]})
        number: int | None = None
        if versions != "all":
            number = int(versions)
            if not prompt.versions.filter(number=number).exists():
                raise NotFound({"versions": [NO_SUCH_VERSION.format(number=number)]})
        return file_response(
            services.prompt_export(user=request.user, prompt=prompt, fmt=fmt, version=number, media=media)
        )


class SnippetView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("lang", str, enum=list(LANGS), required=True),
            OpenApiParameter("version", int, description="Default: the latest version."),
            OpenApiParameter("variables", str, description="A JSON object of variable values."),
            OpenApiParameter("media", str, enum=list(SNIPPET_MEDIA), description="data-url (default) or file"),
            OpenApiParameter("provider", str, enum=["openai", "anthropic", "mistral"], description="javascript/curl"),
            OpenApiParameter("label", str, description="python-resolve: resolve this label at run time."),
        ],
        responses=inline_serializer(
            "Snippet",
            {
                "lang": serializers.CharField(),
                "version": serializers.IntegerField(),
                "provider": serializers.CharField(),
                "model": serializers.CharField(),
                "filename": serializers.CharField(),
                "code": serializers.CharField(),
                "files": serializers.ListField(child=serializers.DictField()),
                "warnings": serializers.ListField(child=serializers.CharField()),
                "env": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request: Request, prompt_id: int) -> Response:
        """Ready-to-run code for one prompt version (keys and base URLs come from environment variables)."""
        from prompts.models import Prompt

        prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=prompt_id)
        params = request.query_params
        lang = _choice(request, "lang", LANGS, "")
        version = _version(prompt, params.get("version"))
        variables = _variables(params.get("variables"))
        snippet = snippet_for(
            version=version,
            lang=lang,
            variables=variables,
            media=_choice(request, "media", SNIPPET_MEDIA, "data-url"),
            provider=params.get("provider") or None,
            label=params.get("label") or None,
            studio_url=request.build_absolute_uri("/").rstrip("/"),
        )
        return Response(snippet_payload(snippet, version.number))


def _version(prompt: Any, raw: Any) -> Any:
    if raw in (None, ""):
        version = prompt.versions.order_by("-number").first()
        if version is None:
            raise serializers.ValidationError({"version": [NO_VERSIONS]})
        return version
    try:
        return prompt.versions.get(number=int(raw))
    except (ValueError, TypeError, prompt.versions.model.DoesNotExist):
        raise serializers.ValidationError({"version": [NO_SUCH_VERSION.format(number=raw)]}) from None


def _variables(raw: Any) -> dict[str, Any]:
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise serializers.ValidationError({"variables": [BAD_VARIABLES]}) from None
    if not isinstance(value, dict):
        raise serializers.ValidationError({"variables": [BAD_VARIABLES]})
    return value


def snippet_payload(snippet: Any, number: int) -> dict[str, Any]:
    from django.urls import reverse

    return {
        "lang": snippet.lang,
        "version": number,
        "provider": snippet.provider,
        "model": snippet.model,
        "filename": snippet.filename,
        "code": snippet.code,
        "files": [{**f, "url": reverse("api:asset-content", kwargs={"asset_id": f["asset"]})} for f in snippet.files],
        "warnings": snippet.warnings,
        "env": snippet.env,
    }


class TemplateExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "yaml"]), MEDIA_PARAM], responses=DOCUMENT_FILES
    )
    def get(self, request: Request, template_id: int) -> HttpResponse:
        from templates_app.models import Template

        template = get_object_for_user(Template.objects.select_related("category"), request.user, pk=template_id)
        fmt = _choice(request, "format", exporters.DOCUMENT_FORMATS, "json")
        media = _choice(request, "media", MEDIA_MODES, "data-url")
        return file_response(services.template_export(user=request.user, template=template, fmt=fmt, media=media))


class DatasetExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl", "json", "yaml"]), MEDIA_PARAM],
        responses=TABLE_AND_DOCUMENT_FILES,
    )
    def get(self, request: Request, dataset_id: int) -> HttpResponse:
        """Rows as CSV or JSONL (with archive media: a ZIP the dataset importer reads back), or a document."""
        from abtests.models import Dataset

        dataset = get_object_for_user(Dataset.objects.all(), request.user, pk=dataset_id)
        fmt = _choice(request, "format", exporters.DOCUMENT_FORMATS + exporters.TABLE_FORMATS, "csv")
        media = _choice(request, "media", MEDIA_MODES, "data-url")
        return file_response(services.dataset_export(user=request.user, dataset=dataset, fmt=fmt, media=media))


class TestExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(exporters.TEST_FORMATS)), MEDIA_PARAM],
        responses=TABLE_AND_DOCUMENT_FILES,  # promptfoo configs are YAML
    )
    def get(self, request: Request, test_id: int) -> HttpResponse:
        """A test with variants, trials and results (json/yaml), its trials (csv/jsonl), or a promptfoo config."""
        from abtests.models import ABTest

        test = get_object_for_user(ABTest.objects.all(), request.user, pk=test_id)
        fmt = _choice(request, "format", exporters.TEST_FORMATS, "json")
        media = _choice(request, "media", MEDIA_MODES, "data-url")
        return file_response(services.abtest_export(user=request.user, test=test, fmt=fmt, media=media))


class RunsExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("workspace", int, required=True),
            OpenApiParameter("format", str, enum=["csv", "jsonl", "json", "yaml"]),
            OpenApiParameter("prompt", int),
            MEDIA_PARAM,
        ],
        responses=TABLE_AND_DOCUMENT_FILES,
    )
    def get(self, request: Request) -> HttpResponse:
        """A workspace's runs (optionally one prompt's), oldest first."""
        from providers.models import Run

        if not request.query_params.get("workspace"):
            raise serializers.ValidationError({"workspace": [WORKSPACE_REQUIRED]})
        membership = membership_for(request.user, request.query_params["workspace"])
        fmt = _choice(request, "format", exporters.DOCUMENT_FORMATS + exporters.TABLE_FORMATS, "csv")
        media = _choice(request, "media", MEDIA_MODES, "data-url")
        runs = (
            Run.objects.filter(workspace_id=membership.workspace_id)
            .select_related("prompt", "prompt_version")
            .order_by("created_at", "id")
        )
        prompt = request.query_params.get("prompt")
        prompt_id: int | None = None
        if prompt:
            try:
                prompt_id = int(prompt)
            except ValueError:
                raise serializers.ValidationError({"prompt": ["prompt must be a prompt id."]}) from None
            runs = runs.filter(prompt_id=prompt_id)
        return file_response(
            services.runs_export(
                user=request.user,
                workspace=membership.workspace,
                runs=runs,
                fmt=fmt,
                media=media,
                prompt_id=prompt_id,
            )
        )


class WorkspaceExportView(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema_serializer(component_name="WorkspaceExportInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        media = serializers.ChoiceField(choices=list(MEDIA_MODES), default="archive")
        format = serializers.ChoiceField(choices=["zip", "json", "yaml"], default="zip")

    @extend_schema(request=Input, responses=DOCUMENT_FILES)
    def post(self, request: Request) -> HttpResponse:
        """The whole workspace as one archive (or one JSON/YAML document with data-URL media)."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        membership = membership_for(request.user, values["workspace"])
        media = "data-url" if values["format"] != "zip" else values["media"]
        return file_response(
            services.workspace_export(
                user=request.user, workspace=membership.workspace, media=media, fmt=values["format"]
            )
        )


class ImportView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "upload"

    @extend_schema_serializer(component_name="ExportImportInput")
    class Input(serializers.Serializer[Any]):
        workspace = serializers.IntegerField()
        file = serializers.FileField(allow_empty_file=True, use_url=False)
        dry_run = serializers.BooleanField(default=False)
        kind = serializers.ChoiceField(choices=["auto", "export", "promptfoo"], default="auto")

    @extend_schema(
        request={"multipart/form-data": Input},
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request) -> Response:
        """Import a studio export (JSON, YAML, ZIP) or a promptfoo config; ``dry_run`` previews it."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        membership = membership_for(request.user, values["workspace"], min_role=Role.EDITOR)
        try:
            result = services.import_any(
                workspace=membership.workspace,
                user=request.user,
                upload=values["file"],
                dry_run=values["dry_run"],
                kind=values["kind"],
            )
        except ImportRefused as exc:
            raise _refused(exc) from None
        code = status.HTTP_200_OK if values["dry_run"] else status.HTTP_201_CREATED
        return Response(result.as_dict(), status=code)
