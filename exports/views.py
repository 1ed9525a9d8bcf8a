"""Export and import pages: the exports index (pick objects, format, download), the import page
(upload -> preview of what will be created -> confirm), and the snippet panel (code + copy button).

Views are thin: ``exports.services`` builds files (through ``exports.exporters``) and imports, auditing both; ``studio.permissions``
decides access (viewers export, editors import, another workspace's object is a 404).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership, Role
from exports import services
from exports.api import file_response
from exports.formats import MEDIA_MODES, ImportRefused
from exports.snippets import LANG_LABELS, LANGS, SNIPPET_MEDIA, SnippetError, snippet_for
from studio.permissions import current_membership, get_object_for_user, require_role

NO_WORKSPACE = "Join or create a workspace first."
CHOOSE_FILE = "Choose a file to import."
PREVIEW_EXPIRED = "The preview has expired; upload the file again."
IMPORTED = "Imported {summary}."
BAD_VARIABLES = 'Variables must be a JSON object such as {"subject": "a cat"}.'
PENDING_KEY = "exports_pending"
DOWNLOAD_TYPES = ("prompt", "template", "dataset", "test", "runs")


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    return membership


def _wants_fragment(request: Any) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    from abtests.models import Dataset
    from prompts.models import Prompt
    from templates_app.models import Template

    membership = _membership(request)
    workspace_id = membership.workspace_id
    try:
        from abtests.models import ABTest

        tests = list(ABTest.objects.filter(workspace_id=workspace_id).order_by("-created_at")[:200])
    except ImportError:  # pragma: no cover - before the A/B test model existed
        tests = []
    context = {
        "workspace": membership.workspace,
        "can_import": membership.has_role(Role.EDITOR),
        "prompts": list(Prompt.objects.filter(workspace_id=workspace_id).order_by("name")[:500]),
        "templates": list(Template.objects.filter(workspace_id=workspace_id).order_by("name")[:500]),
        "datasets": list(Dataset.objects.filter(workspace_id=workspace_id).order_by("name")[:500]),
        "tests": tests,
        "media_modes": MEDIA_MODES,
    }
    return render(request, "exports/index.html", context)


@require_GET
@login_required
def download(request: HttpRequest) -> HttpResponse:
    """One object (or the workspace's runs) as a file, from the index page's pickers."""
    from abtests.models import Dataset
    from prompts.models import Prompt
    from providers.models import Run
    from templates_app.models import Template

    params = request.GET
    kind = params.get("type", "")
    fmt = params.get("format", "json")
    media = params.get("media", "data-url")
    if kind not in DOWNLOAD_TYPES:
        raise Http404("Unknown export type.")
    try:
        if kind == "runs":
            membership = _membership(request)
            runs = (
                Run.objects.filter(workspace_id=membership.workspace_id)
                .select_related("prompt", "prompt_version")
                .order_by("created_at", "id")
            )
            export = services.runs_export(
                user=request.user,  # type: ignore[arg-type]
                workspace=membership.workspace,
                runs=runs,
                fmt=fmt,
                media=media,
            )
            return file_response(export)
        pk = params.get("id")
        if kind == "prompt":
            prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=pk)
            version = params.get("version") or ""
            number = int(version) if version.isdigit() else None
            if number is not None and not prompt.versions.filter(number=number).exists():
                raise Http404("No such version.")
            export = services.prompt_export(
                user=request.user,  # type: ignore[arg-type]
                prompt=prompt,
                fmt=fmt,
                version=number,
                media=media,
            )
        elif kind == "template":
            template = get_object_for_user(Template.objects.select_related("category"), request.user, pk=pk)
            export = services.template_export(
                user=request.user,  # type: ignore[arg-type]
                template=template,
                fmt=fmt,
                media=media,
            )
        elif kind == "dataset":
            dataset = get_object_for_user(Dataset.objects.all(), request.user, pk=pk)
            export = services.dataset_export(
                user=request.user,  # type: ignore[arg-type]
                dataset=dataset,
                fmt=fmt,
                media=media,
            )
        else:
            from abtests.models import ABTest

            test = get_object_for_user(ABTest.objects.all(), request.user, pk=pk)
            export = services.abtest_export(
                user=request.user,  # type: ignore[arg-type]
                test=test,
                fmt=fmt,
                media=media,
            )
    except ImportRefused as exc:
        messages.error(request, exc.text)
        return redirect("exports:index")
    return file_response(export)


@require_POST
@login_required
def workspace_archive(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    media = request.POST.get("media", "archive")
    fmt = "zip" if media == "archive" else request.POST.get("format", "json")
    try:
        export = services.workspace_export(
            user=request.user,  # type: ignore[arg-type]
            workspace=membership.workspace,
            media=media,
            fmt=fmt,
        )
    except ImportRefused as exc:
        messages.error(request, exc.text)
        return redirect("exports:index")
    return file_response(export)


# --- import -----------------------------------------------------------------------------------------


def _store_pending(request: HttpRequest, name: str, data: bytes, workspace_id: int) -> str:
    token = uuid.uuid4().hex
    path = default_storage.save(f"exports/pending/{token}.upload", ContentFile(data))
    pending = request.session.get(PENDING_KEY, {})
    for old in list(pending)[:-4]:  # keep the last few previews only
        default_storage.delete(pending.pop(old)["path"])
    pending[token] = {"path": path, "name": name, "workspace": workspace_id}
    request.session[PENDING_KEY] = pending
    return token


def _take_pending(request: HttpRequest, token: str, workspace_id: int) -> tuple[str, bytes] | None:
    pending = request.session.get(PENDING_KEY, {})
    entry = pending.pop(token, None) if isinstance(token, str) else None
    request.session[PENDING_KEY] = pending
    if not entry or entry.get("workspace") != workspace_id or not default_storage.exists(entry["path"]):
        return None
    with default_storage.open(entry["path"], "rb") as handle:
        data = handle.read()
    default_storage.delete(entry["path"])
    return entry["name"], data


def _summary(result: Any) -> str:
    counts = result.as_dict()["counts"]
    parts = [f"{n} {name}" for name, n in counts.items() if n]
    return ", ".join(parts) or "nothing"


@require_http_methods(["GET", "POST"])
@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, Role.EDITOR)
    context: dict[str, Any] = {"workspace": membership.workspace, "error": "", "preview": None, "token": ""}
    template = "exports/import.html"
    if request.method == "POST":
        action = request.POST.get("action", "preview")
        kind = request.POST.get("kind", "auto")
        if kind not in ("auto", "export", "promptfoo"):
            kind = "auto"
        context["kind"] = kind
        try:
            if action == "confirm":
                pending = _take_pending(request, request.POST.get("token", ""), membership.workspace_id)
                if pending is None:
                    context["error"] = PREVIEW_EXPIRED
                else:
                    name, data = pending
                    result = services.import_any(
                        workspace=membership.workspace,
                        user=request.user,  # type: ignore[arg-type]
                        upload=SimpleUploadedFile(name, data),
                        kind=kind,
                    )
                    messages.success(request, IMPORTED.format(summary=_summary(result)))
                    return redirect("exports:index")
            else:
                upload = request.FILES.get("file")
                if upload is None:
                    context["error"] = CHOOSE_FILE
                else:
                    data = services.read_upload(upload)
                    result = services.import_any(
                        workspace=membership.workspace,
                        user=request.user,  # type: ignore[arg-type]
                        upload=SimpleUploadedFile(upload.name, data),
                        dry_run=True,
                        kind=kind,
                    )
                    context["preview"] = result.as_dict()
                    context["file_name"] = upload.name
                    context["token"] = _store_pending(request, upload.name, data, membership.workspace_id)
        except ImportRefused as exc:
            context["error"] = exc.text
        if _wants_fragment(request):
            template = "exports/import.html#result"
    return render(request, template, context, status=400 if context["error"] else 200)


# --- snippets ---------------------------------------------------------------------------------------


@require_GET
@login_required
def snippet(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The snippet panel's code for one version; the same URL opened directly is a whole page."""
    from prompts.models import Prompt

    prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=prompt_id)
    versions = list(prompt.versions.order_by("-number").values_list("number", flat=True))
    raw_version = request.GET.get("version") or ""
    number = int(raw_version) if raw_version.isdigit() else (versions[0] if versions else None)
    version = prompt.versions.filter(number=number).first() if number is not None else None
    if version is None:
        raise Http404("This prompt has no such version.")
    lang = request.GET.get("lang") or "python-openai"
    media = request.GET.get("media") or "data-url"
    raw_variables = request.GET.get("variables") or ""
    context: dict[str, Any] = {
        "prompt": prompt,
        "version": version,
        "versions": versions,
        "lang": lang,
        "media": media,
        "variables_text": raw_variables,
        "langs": [(code, LANG_LABELS[code]) for code in LANGS],
        "media_modes": SNIPPET_MEDIA,
        "snippet": None,
        "error": "",
    }
    try:
        variables = json.loads(raw_variables) if raw_variables.strip() else {}
        if not isinstance(variables, dict):
            raise ValueError
    except ValueError:
        context["error"] = BAD_VARIABLES
    else:
        try:
            context["snippet"] = snippet_for(
                version=version,
                lang=lang,
                variables=variables,
                media=media,
                label=_production_label(prompt, version),
                studio_url=request.build_absolute_uri("/").rstrip("/"),
            )
        except SnippetError as exc:
            context["error"] = exc.text
    if context["snippet"] is not None:
        context["snippet_files"] = [
            {"name": f["name"], "url": reverse("api:asset-content", kwargs={"asset_id": f["asset"]})}
            for f in context["snippet"].files
        ]
    name = "exports/snippet.html"
    return render(request, f"{name}#code" if _wants_fragment(request) else name, context)


def _production_label(prompt: Any, version: Any) -> str | None:
    """The label the resolve snippet follows: the one pointing at this version, production first."""
    names = list(prompt.labels.filter(version=version).order_by("name").values_list("name", flat=True))
    if "production" in names:
        return "production"
    return names[0] if names else None
