"""Template pages: the gallery (filter + search as you type), a template's page, "use template",
"save as template" and delete.

Views are thin: selectors read, services write, ``studio.permissions`` decides access (404 for another
workspace, 403 for a role too low). An HTMX request that is not boosted navigation gets the gallery's
``results`` partial; the same URL opened directly renders the whole page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import Membership, Role, User
from prompts.models import Prompt, PromptVersion
from studio.permissions import current_membership, get_object_for_user, membership_for, require_role
from templates_app import selectors, services
from templates_app.forms import SaveAsTemplateForm, UseTemplateForm
from templates_app.models import Template

PROMPT_CREATED = "Created the prompt “{name}” from the template “{template}”."
TEMPLATE_SAVED = "Saved “{name}” as a template."
TEMPLATE_DELETED = "Deleted the template “{name}”."
NO_WORKSPACE = "Join or create a workspace before using a template."
MAX_SEARCH_LENGTH = 100


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    """An HTMX request for a piece of a page.

    Boosted navigation and history restores (Back after ``hx-push-url`` with no history cache) swap
    the whole body, so they get the whole page.
    """
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def _membership_or_404(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    return membership


def _add_errors(form: Form, error: ValidationError, default_field: str | None = None) -> None:
    """Show a service's ValidationError next to the matching field (or at the top of the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else default_field, errors)
    else:
        form.add_error(default_field, error)


def _prompt_url(prompt: Prompt) -> str | None:
    """The prompt's page, if the prompts area has one."""
    for kwargs in ({"prompt_id": prompt.pk}, {"pk": prompt.pk}, {"slug": prompt.slug}):
        try:
            return reverse("prompts:detail", kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


@require_GET
@login_required
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    membership = current_membership(request)
    workspace = membership.workspace if membership else None
    category = request.GET.get("category", "").strip()
    search = request.GET.get("search", "").strip()[:MAX_SEARCH_LENGTH]
    templates = list(
        selectors.template_list(user=request.user, workspace=workspace, category=category or None, search=search)
    )
    categories = list(selectors.category_list(user=request.user, workspace=workspace))
    context = {
        "templates": templates,
        "categories": categories,
        "category": category,
        "search": search,
        "total": sum(c.template_count for c in categories),
        "workspace": workspace,
        "can_save": membership is not None and membership.has_role(Role.EDITOR),
    }
    name = "templates_app/gallery.html"
    return render(request, f"{name}#results" if _wants_fragment(request) else name, context)


def _detail_context(request: HtmxHttpRequest, template: Template, form: UseTemplateForm) -> dict[str, Any]:
    membership = current_membership(request)
    can_delete = False
    if not template.is_starter:
        can_delete = membership_for(request.user, template.workspace_id).has_role(Role.ADMIN)
    return {
        "template": template,
        "current": membership,
        "can_use": membership is not None and membership.has_role(Role.EDITOR),
        "can_delete": can_delete,
        "form": form,
    }


@require_GET
@login_required
def detail(request: HtmxHttpRequest, template_id: int) -> HttpResponse:
    template = selectors.template_get(user=request.user, pk=template_id)
    return render(request, "templates_app/detail.html", _detail_context(request, template, UseTemplateForm()))


@require_POST
@login_required
def use(request: HtmxHttpRequest, template_id: int) -> HttpResponse:
    """Make a prompt from the template in the current workspace (editor or higher)."""
    template = selectors.template_get(user=request.user, pk=template_id)
    membership = _membership_or_404(request)
    require_role(membership, Role.EDITOR)
    form = UseTemplateForm(request.POST)
    if form.is_valid():
        try:
            prompt = services.template_instantiate(
                template=template, workspace=membership.workspace, user=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, PROMPT_CREATED.format(name=prompt.name, template=template.name))
            return redirect(_prompt_url(prompt) or reverse("templates_app:detail", args=[template.pk]))
    return render(request, "templates_app/detail.html", _detail_context(request, template, form), status=400)


@require_POST
@login_required
def delete(request: HtmxHttpRequest, template_id: int) -> HttpResponse:
    template = selectors.template_get(user=request.user, pk=template_id)
    if template.is_starter:
        raise PermissionDenied(services.STARTER_READ_ONLY)
    membership_for(request.user, template.workspace_id, min_role=Role.ADMIN)
    services.template_delete(template=template)
    messages.success(request, TEMPLATE_DELETED.format(name=template.name))
    return redirect("templates_app:gallery")


@require_http_methods(["GET", "POST"])
@login_required
def from_version(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    """Save as template: a prompt version's content becomes a template in the prompt's workspace."""
    version = get_object_for_user(
        PromptVersion.objects.select_related("prompt__workspace"),
        request.user,
        min_role=Role.EDITOR,
        field="prompt__workspace",
        pk=version_id,
    )
    prompt = version.prompt
    initial = {"name": prompt.name, "description": prompt.description, "tags": ", ".join(prompt.tags or [])}
    form = SaveAsTemplateForm(request.POST or None, initial={**initial, "category": "other"})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                template: Template = services.template_from_version(
                    version=version,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    category=form.cleaned_data["category"],
                    description=form.cleaned_data["description"],
                    tags=form.cleaned_data["tags"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, TEMPLATE_SAVED.format(name=template.name))
                return redirect("templates_app:detail", template_id=template.pk)
        status = 400
    context = {"form": form, "version": version, "prompt": prompt, "prompt_url": _prompt_url(prompt)}
    return render(request, "templates_app/from_version.html", context, status=status)
