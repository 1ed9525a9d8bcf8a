"""Provider pages: the playground (streamed side-by-side runs), provider keys and the model catalog.

Views are thin: ``providers.playground`` reads and checks the page's input, ``providers.services``
writes and runs, ``studio.permissions`` decides access (404 for another workspace, 403 for a role
too low). Viewers see the playground and the console pages read-only; editors run; admins manage
keys and custom models.

The playground posts JSON (CSRF header) to ``playground-stream`` and reads the answer as Server-Sent
Events with fetch streaming (static/js/playground.js): one multiplexed stream whose events carry the
target index (``providers.services.run_events``). Refusals (bad target, missing variable, no key)
answer 400 JSON before anything is sent or recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import Membership, Role, User
from prompts.models import Prompt
from providers import playground, selectors, services
from providers.forms import CredentialForm, CredentialReplaceForm, CustomModelForm
from providers.media import MediaError
from providers.models import ModelInfo, Provider, ProviderCredential, RunSource
from providers.quota import CallQuotaExceeded
from studio.permissions import (
    SESSION_WORKSPACE_KEY,
    current_membership,
    get_object_for_user,
    membership_for,
    memberships_for,
)

NO_WORKSPACE = "Join or create a workspace to use the playground."
NO_SUCH_VERSION_SHOWN = "This prompt has no {what}; showing its latest version instead."
NOT_JSON = "The request body must be JSON."
NO_FILE = "Choose a file to upload."
NEED_PROMPT = "Start the draft from a saved prompt to save it as that prompt's next version."
NEED_DRAFT = "Only a draft can be saved as a new version; tick “Edit as draft” first."
VERSION_SAVED = "Saved the draft as version {number} of “{name}”."
NOTHING_CHANGED = "The draft equals the latest version; “{name}” stays at version {number}."
CREDENTIAL_ADDED = "Added the {provider} key{tail}."
CREDENTIAL_REPLACED = "Replaced the {provider} key{tail}."
CREDENTIAL_DELETED = "Deleted the {provider} key{tail}."
MODEL_ADDED = "Added the custom model {model}."
MODEL_DELETED = "Deleted the custom model {model}."
VIEWER_CANNOT_RUN = "Viewers can look around; running needs the editor role."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


# --- helpers -----------------------------------------------------------------------------------------


def _current(request: HtmxHttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    return membership


def _fragment(request: HtmxHttpRequest, target: str) -> bool:
    return (
        bool(request.htmx)
        and request.htmx.target == target
        and not request.htmx.boosted
        and not request.htmx.history_restore_request
    )


def _error_payload(error: ValidationError) -> dict[str, Any]:
    """``{"detail": one sentence, "errors": {field: [..]}}`` like the API's error shape."""
    if hasattr(error, "error_dict"):
        errors = {name: [str(m) for m in ValidationError(msgs).messages] for name, msgs in error.error_dict.items()}
        detail = " ".join(m for msgs in errors.values() for m in msgs)
    else:
        errors = {}
        detail = " ".join(str(m) for m in error.messages)
    return {"detail": detail, "code": "invalid", "errors": errors}


def _json_error(error: ValidationError, status: int = 400) -> JsonResponse:
    return JsonResponse(_error_payload(error), status=status)


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(NOT_JSON) from None


def _run_membership(request: HtmxHttpRequest, body: Any, min_role: str) -> Membership:
    """The membership a playground request acts in: the prompt's workspace, else the named one."""
    if not isinstance(body, dict):
        raise ValidationError(playground.BAD_BODY)
    if body.get("prompt") not in (None, ""):
        prompt = get_object_for_user(Prompt.objects.all(), request.user, min_role=min_role, pk=body["prompt"])
        return memberships_for(request.user)[prompt.workspace_id]
    workspace = body.get("workspace")
    if workspace in (None, ""):
        workspace = _current(request).workspace_id
    return membership_for(request.user, workspace, min_role=min_role)


# --- playground --------------------------------------------------------------------------------------


@login_required
@require_GET
def playground_page(request: HtmxHttpRequest) -> HttpResponse:
    """Choose a prompt and version (or a draft), fill variables, pick up to 4 targets, run side by side."""
    prompt = None
    if request.GET.get("prompt"):
        prompt = get_object_for_user(Prompt.objects.select_related("workspace"), request.user, pk=request.GET["prompt"])
        membership = memberships_for(request.user)[prompt.workspace_id]
        if request.session.get(SESSION_WORKSPACE_KEY) != prompt.workspace_id:
            request.session[SESSION_WORKSPACE_KEY] = prompt.workspace_id
    else:
        membership = _current(request)
    workspace = membership.workspace

    versions = playground.versions_for(prompt) if prompt is not None else []
    wanted_label = request.GET.get("label") or None
    wanted_version = request.GET.get("version") or None
    if wanted_version and wanted_version.startswith("label:"):
        wanted_label, wanted_version = wanted_version[6:], None
    version = playground.pick_version(versions, version=wanted_version, label=wanted_label)
    notice = ""
    if version is None and versions:
        what = f"label {wanted_label}" if wanted_label else f"version {wanted_version}"
        notice = NO_SUCH_VERSION_SHOWN.format(what=what)
        version = versions[0]
        wanted_label = wanted_version = None
    selected = f"label:{wanted_label}" if wanted_label else (str(version.number) if version else "")
    content = version.content if version is not None else None

    credentials = list(selectors.credential_list(workspace_id=workspace.pk))
    groups = playground.model_groups(workspace_id=workspace.pk, credentials=credentials)
    draft_mode = prompt is None or version is None or request.GET.get("draft") == "1"
    context = {
        "workspace": workspace,
        "membership": membership,
        "can_run": membership.has_role(Role.EDITOR),
        "can_admin": membership.has_role(Role.ADMIN),
        "prompts": playground.prompts_for(workspace.pk),
        "prompt": prompt,
        "version": version,
        "version_choices": playground.version_choices(prompt, versions) if prompt is not None else [],
        "selected_version": selected,
        "notice": notice,
        "content": content,
        "variables": playground.variable_fields(content) if content else [],
        "draft": playground.draft_view(content),
        "draft_mode": draft_mode,
        "credentials": credentials,
        "has_keys": bool(credentials),
        "groups": groups,
        "default_target": playground.default_target(content, groups),
        "max_targets": services.MAX_TARGETS,
        "viewer_note": VIEWER_CANNOT_RUN,
    }
    template = "providers/playground.html"
    if _fragment(request, "pg-source"):
        template += "#source"
    return render(request, template, context)


@login_required
@require_POST
def playground_stream(request: HtmxHttpRequest) -> HttpResponse:
    """Run the page's targets and stream their output as SSE (run, delta, done, error, ping, end)."""
    try:
        body = _json_body(request)
        membership = _run_membership(request, body, Role.EDITOR)
        run_request = playground.run_request_parse(body, workspace_id=membership.workspace_id)
        rendered, prompt, version, values = run_request.resolve()
        events = services.run_events(
            workspace=membership.workspace,
            user=request.user,
            rendered=rendered,
            targets=run_request.targets,
            source=RunSource.PLAYGROUND,
            prompt_version=version,
            prompt=prompt,
            variables=values,
        )
    except ValidationError as error:
        return _json_error(error)
    except CallQuotaExceeded as exc:
        # The page shows ``detail`` where the run's output would be.
        busy = JsonResponse({"detail": exc.text, "code": "call_quota", "retry_after": exc.retry_after}, status=429)
        busy["Retry-After"] = str(exc.retry_after)
        return busy
    response = StreamingHttpResponse(_sse_releasing_connection(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _sse_releasing_connection(events: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    """SSE frames; the database connection goes back (to the pool) while the stream waits on providers.

    A stream is open for seconds and touches the database only when a run starts or ends, so it
    must not hold a connection (or a pool slot) that pages need meanwhile.
    """
    try:
        for name, payload in events:
            yield services.sse(name, payload)
            if name in ("run", "done", "error") and not connection.in_atomic_block:
                connection.close()
    finally:
        # A client that goes away closes this generator: close the runs' stream now, which records
        # the unfinished runs as cancelled with the text so far.
        close = getattr(events, "close", None)
        if close is not None:
            close()


@login_required
@require_POST
def playground_estimate(request: HtmxHttpRequest) -> JsonResponse:
    """A pre-run cost estimate per target (labelled as an estimate); viewers may ask too."""
    try:
        body = _json_body(request)
        membership = _run_membership(request, body, Role.VIEWER)
        run_request = playground.run_request_parse(body, workspace_id=membership.workspace_id)
        rendered, *_ = run_request.resolve()
    except ValidationError as error:
        # Half-filled input is normal while typing: the answer says why there is no estimate yet.
        return JsonResponse({"estimates": [], "error": _error_payload(error)["detail"]})
    estimates: list[dict[str, Any]] = []
    for index, target in enumerate(run_request.targets):
        try:
            estimate = services.run_estimate(workspace_id=membership.workspace_id, rendered=rendered, target=target)
        except ValidationError as error:
            estimates.append({"index": index, "error": _error_payload(error)["detail"]})
        except MediaError as error:
            estimates.append({"index": index, "error": str(error)})
        else:
            estimates.append({"index": index, **estimate.as_dict()})
    return JsonResponse({"estimates": estimates})


@login_required
@require_POST
def playground_upload(request: HtmxHttpRequest) -> JsonResponse:
    """An image (or audio/PDF) for a variable or the draft, stored through prompts' asset service."""
    from prompts.services import asset_create

    if request.POST.get("prompt"):
        prompt = get_object_for_user(
            Prompt.objects.all(), request.user, min_role=Role.EDITOR, pk=request.POST["prompt"]
        )
        membership = memberships_for(request.user)[prompt.workspace_id]
    else:
        membership = membership_for(request.user, request.POST.get("workspace"), min_role=Role.EDITOR)
    upload = request.FILES.get("file")
    if upload is None:
        return _json_error(ValidationError({"file": [NO_FILE]}))
    try:
        asset, _ = asset_create(workspace=membership.workspace, user=request.user, upload=upload)
    except ValidationError as error:
        return _json_error(error)
    expected = request.POST.get("kind")
    if expected and expected != asset.kind:
        return _json_error(
            ValidationError({"file": [f"That file is {asset.get_kind_display().lower()}, not {expected}."]})
        )
    content_url = reverse("api:asset-content", args=[asset.pk])
    return JsonResponse(
        {
            "id": str(asset.pk),
            "kind": asset.kind,
            "name": asset.original_name or "uploaded file",
            "url": content_url,
            "thumbnail": f"{content_url}?thumbnail=1" if asset.thumbnail else content_url,
        }
    )


@login_required
@require_POST
def playground_save(request: HtmxHttpRequest) -> JsonResponse:
    """Save the draft as the next version of the prompt it started from (editor+)."""
    from prompts.services import version_create

    try:
        body = _json_body(request)
        if not isinstance(body, dict) or body.get("prompt") in (None, ""):
            raise ValidationError({"prompt": [NEED_PROMPT]})
        if not isinstance(body.get("draft"), dict):
            raise ValidationError({"draft": [NEED_DRAFT]})
        membership = _run_membership(request, body, Role.EDITOR)
        body = {**body, "targets": body.get("targets") or [{"model": "echo:echo"}]}
        run_request = playground.run_request_parse(body, workspace_id=membership.workspace_id)
        content = run_request.content()
        prompt = Prompt.objects.get(pk=run_request.prompt_id)
        assert content is not None
        version, created = version_create(
            prompt=prompt, user=request.user, content=content, message=str(body.get("message") or "")[:500]
        )
    except ValidationError as error:
        return _json_error(error)
    text = (VERSION_SAVED if created else NOTHING_CHANGED).format(number=version.number, name=prompt.name)
    url = reverse("providers:playground") + f"?prompt={prompt.pk}&version={version.number}"
    return JsonResponse({"number": version.number, "created": created, "message": text, "url": url})


# --- provider keys -----------------------------------------------------------------------------------


def _tail(credential: ProviderCredential) -> str:
    parts = []
    if credential.label:
        parts.append(f"“{credential.label}”")
    if credential.last4:
        parts.append(f"ending in {credential.last4}")
    return (" " + " ".join(parts)) if parts else ""


def _credentials_page(
    request: HtmxHttpRequest, membership: Membership, form: CredentialForm | None = None, status: int = 200
) -> HttpResponse:
    credentials = list(selectors.credential_list(workspace_id=membership.workspace_id).select_related("created_by"))
    can_admin = membership.has_role(Role.ADMIN)
    context = {
        "workspace": membership.workspace,
        "membership": membership,
        "can_admin": can_admin,
        "credentials": credentials,
        "form": form or (CredentialForm() if can_admin else None),
        "replace_form": CredentialReplaceForm() if can_admin else None,
    }
    return render(request, "providers/credentials.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def credentials(request: HtmxHttpRequest) -> HttpResponse:
    """The workspace's provider keys (provider, label, last 4 characters); admins add, replace, delete, test."""
    membership = _current(request)
    if request.method == "GET":
        return _credentials_page(request, membership)
    membership = membership_for(request.user, membership.workspace_id, min_role=Role.ADMIN)
    form = CredentialForm(request.POST)
    if form.is_valid():
        try:
            credential = services.credential_create(
                workspace=membership.workspace,
                user=request.user,
                provider=form.cleaned_data["provider"],
                api_key=form.cleaned_data["api_key"],
                label=form.cleaned_data["label"],
                base_url=form.cleaned_data["base_url"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, CREDENTIAL_ADDED.format(provider=credential.get_provider_display(), tail=_tail(credential))
            )
            return redirect("providers:credentials")
    form.data = form.data.copy()
    form.data["api_key"] = ""  # never echo a key back into the page
    return _credentials_page(request, membership, form, status=400)


def _credential_for(request: HtmxHttpRequest, pk: int) -> ProviderCredential:
    return get_object_for_user(ProviderCredential.objects.all(), request.user, min_role=Role.ADMIN, pk=pk)


@login_required
@require_POST
def credential_replace(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    credential = _credential_for(request, pk)
    form = CredentialReplaceForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.get("api_key") or services.KEY_REQUIRED)
        services.credential_replace(credential=credential, api_key=form.cleaned_data["api_key"])
    except ValidationError as error:
        messages.error(request, _error_payload(error)["detail"])
    else:
        messages.success(
            request, CREDENTIAL_REPLACED.format(provider=credential.get_provider_display(), tail=_tail(credential))
        )
    request.session[SESSION_WORKSPACE_KEY] = credential.workspace_id
    return redirect("providers:credentials")


@login_required
@require_POST
def credential_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    credential = _credential_for(request, pk)
    text = CREDENTIAL_DELETED.format(provider=credential.get_provider_display(), tail=_tail(credential))
    services.credential_delete(credential=credential)
    messages.success(request, text)
    request.session[SESSION_WORKSPACE_KEY] = credential.workspace_id
    return redirect("providers:credentials")


@login_required
@require_POST
def credential_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Ask the provider to list its models with this key; the answer shows as a toast (and inline)."""
    credential = _credential_for(request, pk)
    check = services.credential_test(credential=credential)
    if request.htmx:
        response = render(request, "providers/credentials.html#test-result", {"check": check, "credential": credential})
        response["HX-Trigger"] = json.dumps(
            {"toast": {"message": check.message, "level": "success" if check.ok else "error"}}
        )
        return response
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("providers:credentials")


# --- model catalog -----------------------------------------------------------------------------------


def _models_page(
    request: HtmxHttpRequest, membership: Membership, form: CustomModelForm | None = None, status: int = 200
) -> HttpResponse:
    rows = list(selectors.model_list(workspace_id=membership.workspace_id))
    can_admin = membership.has_role(Role.ADMIN)
    order = [p.value for p in Provider]
    groups = []
    for provider in order:
        models = [m for m in rows if m.provider == provider]
        if models:
            groups.append({"provider": provider, "label": Provider(provider).label, "models": models})
    read_on = max((m.prices_read_on for m in rows if m.prices_read_on), default=None)
    context = {
        "workspace": membership.workspace,
        "can_admin": can_admin,
        "groups": groups,
        "model_count": len(rows),
        "unverified_count": sum(1 for m in rows if not m.verified and m.provider != Provider.ECHO),
        "read_on": read_on,
        "form": form or (CustomModelForm() if can_admin else None),
    }
    return render(request, "providers/models.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def models_page(request: HtmxHttpRequest) -> HttpResponse:
    """The model catalog with modalities, context and prices; admins add custom OpenAI-compatible models."""
    membership = _current(request)
    if request.method == "GET":
        return _models_page(request, membership)
    membership = membership_for(request.user, membership.workspace_id, min_role=Role.ADMIN)
    form = CustomModelForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            model = services.custom_model_create(
                workspace=membership.workspace,
                model_id=data["model_id"],
                display_name=data["display_name"],
                input_modalities=["text", *data["input_modalities"]],
                context_window=data["context_window"] or 0,
                price_input=data["price_input"] or 0,
                price_output=data["price_output"] or 0,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, MODEL_ADDED.format(model=model.model_id))
            return redirect("providers:models")
    return _models_page(request, membership, form, status=400)


@login_required
@require_POST
def custom_model_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    model = get_object_for_user(
        ModelInfo.objects.filter(workspace__isnull=False), request.user, min_role=Role.ADMIN, pk=pk
    )
    services.custom_model_delete(model=model)
    messages.success(request, MODEL_DELETED.format(model=model.model_id))
    request.session[SESSION_WORKSPACE_KEY] = model.workspace_id
    return redirect("providers:models")
