"""Prompt pages: the list, the editor, version history, diff, labels and the prompt actions.

Views are thin: selectors read, services write, ``studio.permissions`` decides access (404 for
another workspace, 403 for a role too low). An HTMX request aimed at a page's fragment (``HX-Target``
names it) gets that named partial; every URL opened directly, by boosted navigation or by a history
restore renders the whole page.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from accounts.models import Membership, Role, User
from prompts import selectors, services
from prompts.assets import AssetError
from prompts.content import VARIABLE_TYPES, ContentError, empty_document
from prompts.editor import (
    PART_LABELS,
    EditorState,
    MessageView,
    PartView,
    VariableView,
    editor_state,
    referenced_asset_ids,
    role_choices,
)
from prompts.forms import LabelForm, PromptEditorForm
from prompts.models import STANDARD_LABELS, Prompt, PromptVersion
from providers.models import Provider
from providers.selectors import model_list
from studio.permissions import current_membership, get_object_for_user, membership_for, memberships_for

PAGE_SIZE = 25
MAX_SEARCH_LENGTH = 100
LIST_SORTS = {
    "-updated": "Recently updated",
    "name": "Name A to Z",
    "-name": "Name Z to A",
    "-versions": "Most versions",
    "versions": "Fewest versions",
}

NO_WORKSPACE = "Join or create a workspace to write prompts."
PROMPT_CREATED = "Created “{name}” with version 1."
VERSION_SAVED = "Saved version {number} of “{name}”."
NOTHING_CHANGED = "No changes to the content: “{name}” stays at version {number}."
DETAILS_SAVED = "Saved the details of “{name}”; the content is unchanged (version {number})."
NOT_SAVED = "Not saved: {error}"
RESTORED = "Restored version {old} as version {new}."
RESTORE_SAME = "Version {old} is already the latest content (version {new}); nothing to restore."
LABEL_MOVED = "{label} now points at version {number}."
LABEL_REMOVED = "Removed the label {label}."
DUPLICATED = "Duplicated “{name}” as “{copy}”."
ARCHIVED = "Archived “{name}”. It no longer shows in the list; resolving it still works."
UNARCHIVED = "“{name}” is active again."
DELETED = "Deleted “{name}” and its {count} version{plural}."
UPLOADED = "Uploaded {name}."
NEED_TWO_VERSIONS = "A diff needs two versions; save another version first."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


# --- helpers -----------------------------------------------------------------------------------------


def _fragment(request: HtmxHttpRequest, target: str) -> bool:
    """An HTMX request that swaps the element ``target`` (not boosted navigation or a history restore)."""
    return (
        bool(request.htmx)
        and request.htmx.target == target
        and not request.htmx.boosted
        and not request.htmx.history_restore_request
    )


def _toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    """Ask the page to show a toast (studio.js listens for the ``toast`` event)."""
    triggers: dict[str, Any] = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    triggers["toast"] = {"message": message, "level": level}
    response["HX-Trigger"] = json.dumps(triggers)
    return response


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """After a write: a full navigation to ``url`` (messages show there as toasts)."""
    if request.htmx and not request.htmx.boosted:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _current(request: HtmxHttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    return membership


def _prompt_for(request: HtmxHttpRequest, prompt_id: int, min_role: str = Role.VIEWER) -> Prompt:
    return get_object_for_user(
        Prompt.objects.select_related("workspace"), request.user, min_role=min_role, pk=prompt_id
    )


def _role_in(request: HtmxHttpRequest, workspace_id: int) -> Membership:
    return memberships_for(request.user)[workspace_id]


def _errors_of(error: ValidationError) -> dict[str, list[str]]:
    if isinstance(error, ContentError):
        return {error.path: [error.reason]}
    if hasattr(error, "error_dict"):
        return {key: [str(m) for m in ValidationError(value).messages] for key, value in error.error_dict.items()}
    return {"": list(error.messages)}


def _error_sentence(errors: dict[str, list[str]]) -> str:
    for path, texts in errors.items():
        for text in texts:
            return f"{path}: {text}" if path and path not in ("name", "tags", "description", "message") else text
    return "check the form."


# --- list --------------------------------------------------------------------------------------------


def _list_params(request: HttpRequest) -> dict[str, Any]:
    sort = request.GET.get("sort", selectors.DEFAULT_SORT)
    return {
        "q": request.GET.get("q", "").strip()[:MAX_SEARCH_LENGTH],
        "tag": request.GET.get("tag", "").strip()[:32],
        "label": request.GET.get("label", "").strip()[:50],
        "sort": sort if sort in LIST_SORTS else selectors.DEFAULT_SORT,
        "archived": request.GET.get("archived") in ("1", "true", "yes"),
    }


@require_GET
@login_required
def prompt_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = current_membership(request)
    params = _list_params(request)
    context: dict[str, Any] = {**params, "sorts": LIST_SORTS, "current": membership}
    if membership is not None:
        prompts = selectors.prompt_list(
            user=request.user,
            workspace_id=membership.workspace_id,
            search=params["q"],
            tag=params["tag"],
            label=params["label"],
            archived=params["archived"],
            sort=params["sort"],
        )
        page = Paginator(prompts, PAGE_SIZE).get_page(request.GET.get("page"))
        counts = selectors.prompt_counts(user=request.user, workspace_id=membership.workspace_id)
        context.update(
            page=page,
            prompts=list(page.object_list),
            counts=counts,
            tags=selectors.tag_list(user=request.user, workspace_id=membership.workspace_id),
            labels=selectors.label_name_list(user=request.user, workspace_id=membership.workspace_id),
            filtered=bool(params["q"] or params["tag"] or params["label"]),
            can_edit=membership.has_role(Role.EDITOR),
        )
    template = "prompts/list.html"
    if _fragment(request, "prompt-results"):
        template += "#results"
    return render(request, template, context)


# --- editor ------------------------------------------------------------------------------------------


def _editor_context(
    request: HtmxHttpRequest,
    *,
    workspace_id: int,
    membership: Membership,
    prompt: Prompt | None,
    document: Any,
    values: dict[str, str],
    errors: dict[str, list[str]] | None = None,
    version: PromptVersion | None = None,
    latest: PromptVersion | None = None,
    readonly: bool = False,
) -> dict[str, Any]:
    ids = referenced_asset_ids(document)
    assets = selectors.assets_by_id(workspace_id=workspace_id, ids=ids) if ids else {}
    state: EditorState = editor_state(document, errors=errors, assets=assets)
    field_errors = {key: texts for key, texts in (errors or {}).items() if key in values}
    can_edit = membership.has_role(Role.EDITOR) and not readonly
    providers = list(Provider.choices)
    if state.model.provider and state.model.provider not in dict(providers):
        providers.append((state.model.provider, state.model.provider))
    return {
        "blank_message": MessageView(role="user"),
        "blank_parts": [PartView(type=kind) for kind in PART_LABELS],
        "blank_variable": VariableView(name=""),
        "variable_types": VARIABLE_TYPES,
        "is_editor": membership.has_role(Role.EDITOR),
        "has_errors": bool(errors),
        "prompt": prompt,
        "version": version,
        "latest": latest,
        "state": state,
        "values": values,
        "field_errors": field_errors,
        "can_edit": can_edit,
        "can_admin": membership.has_role(Role.ADMIN),
        "readonly": readonly,
        "roles": role_choices(),
        "providers": providers,
        "model_ids": list(
            model_list(workspace_id=workspace_id).values_list("model_id", flat=True).distinct().order_by("model_id")
        ),
        "workspace_id": workspace_id,
        "save_url": reverse("prompts:detail", args=[prompt.pk]) if prompt else reverse("prompts:new"),
        "upload_url": reverse("prompts:upload"),
        "labels": list(prompt.labels.all()) if prompt is not None else [],
    }


def _values_from(prompt: Prompt | None) -> dict[str, str]:
    if prompt is None:
        return {"name": "", "description": "", "tags": "", "message": ""}
    return {
        "name": prompt.name,
        "description": prompt.description,
        "tags": ", ".join(prompt.tags or []),
        "message": "",
    }


def _posted_values(form: PromptEditorForm) -> dict[str, str]:
    return {key: str(form.data.get(key, "")) for key in ("name", "description", "tags", "message")}


def _editor_response(request: HtmxHttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    template = "prompts/editor.html"
    if _fragment(request, "prompt-editor"):
        template += "#editor"
    return render(request, template, context, status=status)


def _invalid(
    request: HtmxHttpRequest,
    form: PromptEditorForm,
    errors: dict[str, list[str]],
    **context_kwargs: Any,
) -> HttpResponse:
    context = _editor_context(
        request, document=form.raw_content(), values=_posted_values(form), errors=errors, **context_kwargs
    )
    response = _editor_response(request, context, status=400)
    return _toast(response, NOT_SAVED.format(error=_error_sentence(errors)), "error")


@require_http_methods(["GET", "POST"])
@login_required
def prompt_new(request: HtmxHttpRequest) -> HttpResponse:
    membership = _current(request)
    if request.method == "POST":
        membership = membership_for(request.user, membership.workspace_id, min_role=Role.EDITOR)
        form = PromptEditorForm(request.POST)
        common = {"workspace_id": membership.workspace_id, "membership": membership, "prompt": None}
        if not form.is_valid():
            return _invalid(request, form, {k: list(v) for k, v in form.errors.items()}, **common)
        data = form.cleaned_data
        try:
            prompt = services.prompt_create(
                workspace=membership.workspace,
                user=request.user,
                name=data["name"],
                description=data["description"],
                tags=services.clean_tags(data["tags"]),
                content=data["content"],
                message=data["message"],
            )
        except ValidationError as error:
            return _invalid(request, form, _errors_of(error), **common)
        messages.success(request, PROMPT_CREATED.format(name=prompt.name))
        return _go(request, reverse("prompts:detail", args=[prompt.pk]))
    membership_for(request.user, membership.workspace_id, min_role=Role.EDITOR)
    context = _editor_context(
        request,
        workspace_id=membership.workspace_id,
        membership=membership,
        prompt=None,
        document=empty_document(),
        values=_values_from(None),
    )
    return _editor_response(request, context)


@require_http_methods(["GET", "POST"])
@login_required
def prompt_detail(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    """The editor: the latest version, editable by editors; POST saves a new version."""
    prompt = _prompt_for(request, prompt_id, Role.EDITOR if request.method == "POST" else Role.VIEWER)
    membership = _role_in(request, prompt.workspace_id)
    prompt = selectors.prompt_get(pk=prompt.pk)
    latest = selectors.version_latest(prompt=prompt)
    common = {"workspace_id": prompt.workspace_id, "membership": membership, "prompt": prompt, "latest": latest}
    if request.method == "POST":
        form = PromptEditorForm(request.POST)
        if not form.is_valid():
            return _invalid(request, form, {k: list(v) for k, v in form.errors.items()}, **common)
        data = form.cleaned_data
        details_changed = (data["name"], data["description"].strip(), services.clean_tags(data["tags"])) != (
            prompt.name,
            prompt.description,
            prompt.tags,
        )
        try:
            version, created = services.prompt_save(
                prompt=prompt,
                user=request.user,
                name=data["name"],
                description=data["description"],
                tags=data["tags"],
                content=data["content"],
                message=data["message"],
            )
        except ValidationError as error:
            return _invalid(request, form, _errors_of(error), **common)
        if created:
            messages.success(request, VERSION_SAVED.format(number=version.number, name=prompt.name))
        elif details_changed:
            messages.success(request, DETAILS_SAVED.format(name=prompt.name, number=version.number))
        else:
            messages.info(request, NOTHING_CHANGED.format(name=prompt.name, number=version.number))
        return _go(request, reverse("prompts:detail", args=[prompt.pk]))
    context = _editor_context(
        request,
        document=latest.content if latest else empty_document(),
        values=_values_from(prompt),
        version=latest,
        **common,
    )
    return _editor_response(request, context)


@require_GET
@login_required
def version_detail(request: HtmxHttpRequest, prompt_id: int, number: int) -> HttpResponse:
    """One version, read-only, with restore and label actions."""
    prompt = _prompt_for(request, prompt_id)
    membership = _role_in(request, prompt.workspace_id)
    prompt = selectors.prompt_get(pk=prompt.pk)
    version = selectors.version_get(prompt=prompt, number=number)
    context = _editor_context(
        request,
        workspace_id=prompt.workspace_id,
        membership=membership,
        prompt=prompt,
        document=version.content,
        values={**_values_from(prompt), "message": version.message},
        version=version,
        latest=selectors.version_latest(prompt=prompt),
        readonly=True,
    )
    context["can_restore"] = membership.has_role(Role.EDITOR)
    return _editor_response(request, context)


@require_POST
@login_required
def asset_upload(request: HtmxHttpRequest) -> JsonResponse:
    """An editor upload (drag-and-drop or picker): check and store through prompts' asset service."""
    membership = membership_for(request.user, request.POST.get("workspace"), min_role=Role.EDITOR)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "Choose a file to upload."}, status=400)
    try:
        asset, _ = services.asset_create(workspace=membership.workspace, user=request.user, upload=upload)
    except (AssetError, ValidationError) as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    html = render_to_string("prompts/editor.html#asset_preview", {"asset": asset}, request=request)
    return JsonResponse(
        {
            "id": str(asset.pk),
            "kind": asset.kind,
            "name": asset.original_name,
            "html": html,
            "message": UPLOADED.format(name=asset.original_name or "the file"),
        }
    )


# --- history, diff, labels ---------------------------------------------------------------------------


def _history_context(request: HtmxHttpRequest, prompt: Prompt, label_form: LabelForm | None = None) -> dict[str, Any]:
    membership = _role_in(request, prompt.workspace_id)
    versions = list(selectors.version_list(prompt=prompt))
    labels = list(selectors.label_list(prompt=prompt))
    label_names = sorted({*STANDARD_LABELS, *(label.name for label in labels)})
    return {
        "prompt": prompt,
        "versions": versions,
        "labels": labels,
        "label_names": label_names,
        "moves": list(selectors.label_move_list(prompt=prompt)),
        "can_edit": membership.has_role(Role.EDITOR),
        "can_admin": membership.has_role(Role.ADMIN),
        "label_form": label_form,
        "default_from": versions[1].number if len(versions) > 1 else None,
        "default_to": versions[0].number if versions else None,
    }


def _history_response(
    request: HtmxHttpRequest, prompt: Prompt, label_form: LabelForm | None = None, status: int = 200
) -> HttpResponse:
    template = "prompts/history.html"
    if _fragment(request, "history"):
        template += "#history"
    return render(request, template, _history_context(request, prompt, label_form), status=status)


@require_GET
@login_required
def history(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get(pk=_prompt_for(request, prompt_id).pk)
    return _history_response(request, prompt)


@require_GET
@login_required
def diff(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    prompt = selectors.prompt_get(pk=_prompt_for(request, prompt_id).pk)
    versions = list(selectors.version_list(prompt=prompt))
    context: dict[str, Any] = {"prompt": prompt, "versions": versions}
    if len(versions) < 2:
        context["notice"] = NEED_TWO_VERSIONS
    else:
        by_number = {v.number: v for v in versions}

        def pick(key: str, default: int) -> PromptVersion:
            try:
                return by_number[int(request.GET.get(key, default))]
            except (KeyError, ValueError):
                raise Http404(f"This prompt has no version {request.GET.get(key)}.") from None

        old, new = pick("from", versions[1].number), pick("to", versions[0].number)
        result = selectors.version_diff(old=old, new=new)
        ids = referenced_asset_ids(old.content) + referenced_asset_ids(new.content)
        assets = selectors.assets_by_id(workspace_id=prompt.workspace_id, ids=ids) if ids else {}
        for message in result["messages"]:
            for part in message["parts"]:
                part["old_asset"] = assets.get((part["old"] or {}).get("asset", ""))
                part["new_asset"] = assets.get((part["new"] or {}).get("asset", ""))
        context.update(old=old, new=new, result=result)
    template = "prompts/diff.html"
    if _fragment(request, "diff"):
        template += "#diff"
    return render(request, template, context)


@require_POST
@login_required
def version_restore(request: HtmxHttpRequest, prompt_id: int, number: int) -> HttpResponse:
    prompt = _prompt_for(request, prompt_id, Role.EDITOR)
    old = selectors.version_get(prompt=prompt, number=number)
    version, created = services.version_restore(prompt=prompt, number=old.number, user=request.user)
    if created:
        messages.success(request, RESTORED.format(old=old.number, new=version.number))
    else:
        messages.info(request, RESTORE_SAME.format(old=old.number, new=version.number))
    return _go(request, reverse("prompts:history", args=[prompt.pk]))


@require_POST
@login_required
def label_set(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    """Point a label (production, staging or a custom name) at a version (editor or higher)."""
    prompt = _prompt_for(request, prompt_id, Role.EDITOR)
    form = LabelForm(request.POST)
    if form.is_valid():
        try:
            services.label_set(
                prompt=prompt, name=form.cleaned_data["label"], version=form.cleaned_data["version"], user=request.user
            )
        except ValidationError as error:
            for key, texts in _errors_of(error).items():
                form.add_error("label" if key not in form.fields else key, texts)
    if not form.is_valid():
        error = " ".join(e for errs in form.errors.values() for e in errs)
        if _fragment(request, "history"):
            response = _history_response(request, selectors.prompt_get(pk=prompt.pk), form, status=200)
            return _toast(response, error, "error")
        messages.error(request, error)
        return redirect("prompts:history", prompt_id=prompt.pk)
    text = LABEL_MOVED.format(label=form.cleaned_data["label"], number=form.cleaned_data["version"])
    if _fragment(request, "history"):
        return _toast(_history_response(request, selectors.prompt_get(pk=prompt.pk)), text)
    messages.success(request, text)
    return redirect("prompts:history", prompt_id=prompt.pk)


@require_POST
@login_required
def label_remove(request: HtmxHttpRequest, prompt_id: int, label: str) -> HttpResponse:
    prompt = _prompt_for(request, prompt_id, Role.EDITOR)
    services.label_delete(prompt=prompt, name=label, user=request.user)
    text = LABEL_REMOVED.format(label=label)
    if _fragment(request, "history"):
        return _toast(_history_response(request, selectors.prompt_get(pk=prompt.pk)), text)
    messages.success(request, text)
    return redirect("prompts:history", prompt_id=prompt.pk)


# --- prompt actions ----------------------------------------------------------------------------------


@require_POST
@login_required
def prompt_duplicate(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    prompt = _prompt_for(request, prompt_id, Role.EDITOR)
    copy = services.prompt_duplicate(prompt=prompt, user=request.user)
    messages.success(request, DUPLICATED.format(name=prompt.name, copy=copy.name))
    return _go(request, reverse("prompts:detail", args=[copy.pk]))


@require_POST
@login_required
def prompt_archive(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    """Archive (``archived=1``) or unarchive (``archived=0``)."""
    prompt = _prompt_for(request, prompt_id, Role.EDITOR)
    archived = request.POST.get("archived", "1") in ("1", "true", "yes")
    services.prompt_update(prompt=prompt, archived=archived)
    messages.success(request, (ARCHIVED if archived else UNARCHIVED).format(name=prompt.name))
    return _go(request, reverse("prompts:detail", args=[prompt.pk]))


@require_POST
@login_required
def prompt_delete(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    prompt = _prompt_for(request, prompt_id, Role.ADMIN)
    count = prompt.versions.count()
    name = prompt.name
    try:
        services.prompt_delete(prompt=prompt)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _go(request, reverse("prompts:detail", args=[prompt_id]))
    messages.success(request, DELETED.format(name=name, count=count, plural="" if count == 1 else "s"))
    return _go(request, reverse("prompts:list"))
