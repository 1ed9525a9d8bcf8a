"""Account and workspace pages: sign up, log in/out, password, workspace switcher and settings console.

Views are thin: forms clean input, ``accounts.services`` writes, ``studio.permissions`` decides access
(404 for another workspace, 403 for a role too low). HTMX requests (not boosted navigation) get the named
partial of the same template, so every URL also opens as a whole page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh
from django_htmx.middleware import HtmxDetails

from accounts import selectors, services
from accounts.forms import (
    InviteForm,
    LoginForm,
    MemberChoiceForm,
    RoleForm,
    SignupForm,
    SwitchWorkspaceForm,
    WorkspaceForm,
)
from accounts.models import Membership, Role, User
from accounts.throttling import TOO_MANY_ATTEMPTS, login_blocked_for, login_failed
from studio.permissions import SESSION_WORKSPACE_KEY, current_membership, membership_for

WELCOME = "Welcome, {name}! Your workspace “{workspace}” is ready."
INVALID_LOGIN = "That email and password don't match an account. Check both and try again."
LOGGED_OUT = "You're logged out."
PASSWORD_CHANGED = "Your password was changed."
SWITCHED = "Switched to {workspace}."
WORKSPACE_CREATED = "Workspace “{workspace}” created. You're its owner."
WORKSPACE_RENAMED = "Workspace renamed to “{workspace}”."
WORKSPACE_DELETED = "Workspace “{workspace}” was deleted."
NO_WORKSPACE = "You're not in any workspace yet. Create one to get started."
MEMBER_INVITED = "{email} joined as {role}."
ROLE_CHANGED = "{name} is now {role}."
MEMBER_REMOVED = "{name} was removed from the workspace."
OWNERSHIP_TRANSFERRED = "{name} is now the owner. You're an admin."
LEFT_WORKSPACE = "You left “{workspace}”."
INVALID_CHOICE = "Pick one of the listed options."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


# --- helpers ---------------------------------------------------------------------------------


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    """An HTMX request for a piece of a page (boosted navigation and history restores want the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    """Ask the page to show a toast (studio.js listens for the ``toast`` event)."""
    triggers: dict[str, Any] = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    triggers["toast"] = {"message": message, "level": level}
    response["HX-Trigger"] = json.dumps(triggers)
    return response


def _message(request: HttpRequest, message: str, level: str) -> None:
    (messages.error if level == "error" else messages.success)(request, message)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _add_service_error(form: Form, error: ValidationError, default_field: str | None = None) -> None:
    """Show a service's ValidationError next to the matching field (or at the top of the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(default_field, error)


def _safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _back_to_settings(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """Non-HTMX actions land on the settings page of the workspace they acted on."""
    request.session[SESSION_WORKSPACE_KEY] = workspace_id
    return redirect("accounts:settings")


@dataclass(frozen=True)
class MemberRow:
    """One row of the members table, with what the viewing member may do to it."""

    member: Membership
    is_self: bool
    editable: bool
    removable: bool
    role_choices: list[tuple[str, str]]


def _grantable_roles(actor: Membership) -> list[tuple[str, str]]:
    if actor.role == Role.OWNER:
        return list(Role.choices)
    return [choice for choice in Role.choices if choice[0] != Role.OWNER]


def _row(actor: Membership, member: Membership) -> MemberRow:
    manages = actor.has_role(Role.ADMIN) and (member.role != Role.OWNER or actor.role == Role.OWNER)
    is_self = member.pk == actor.pk
    return MemberRow(
        member=member,
        is_self=is_self,
        editable=manages,
        removable=manages and not is_self,
        role_choices=_grantable_roles(actor),
    )


def _member_or_404(actor: Membership, user_id: int) -> Membership:
    member = selectors.member_get(workspace=actor.workspace, user_id=user_id)
    if member is None:
        raise Http404("No such member in this workspace.")
    return member


def _render_settings(
    request: HtmxHttpRequest,
    actor: Membership,
    *,
    partial: str | None = None,
    rename_form: WorkspaceForm | None = None,
    invite_form: InviteForm | None = None,
) -> HttpResponse:
    workspace = actor.workspace
    members = list(selectors.member_list(workspace=workspace))
    context = {
        "actor": actor,
        "workspace": workspace,
        "rows": [_row(actor, m) for m in members],
        "member_count": len(members),
        "others": [m for m in members if m.pk != actor.pk],
        "can_admin": actor.has_role(Role.ADMIN),
        "is_owner": actor.role == Role.OWNER,
        "rename_form": rename_form or WorkspaceForm(initial={"name": workspace.name}),
        "invite_form": invite_form or InviteForm(roles=_grantable_roles(actor)),
    }
    template = "accounts/settings.html"
    if partial and _wants_fragment(request):
        template = f"{template}#{partial}"
    return render(request, template, context)


# --- sign up, log in, log out, password ----------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HtmxHttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
        except ValidationError as error:
            _add_service_error(form, error, default_field="password1")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            workspace = selectors.membership_list(user=user)[0].workspace
            request.session[SESSION_WORKSPACE_KEY] = workspace.pk
            messages.success(request, WELCOME.format(name=user.name, workspace=workspace.name))
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_view(request: HtmxHttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(_safe_next(request, next_url, reverse("home")))
    form = LoginForm(request.POST or None)
    if request.method == "POST":
        wait = login_blocked_for(request)
        if wait is not None:
            form.is_valid()
            form.add_error(None, TOO_MANY_ATTEMPTS.format(seconds=wait))
            response = render(request, "accounts/login.html", {"form": form, "next": next_url}, status=429)
            response["Retry-After"] = str(wait)
            return response
        if form.is_valid():
            user = authenticate(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
            if user is None:
                login_failed(request)
                form.add_error(None, INVALID_LOGIN)
            else:
                login(request, user)
                return redirect(_safe_next(request, next_url, reverse("home")))
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


@require_POST
def logout_view(request: HtmxHttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, LOGGED_OUT)
    return redirect("accounts:login")


@require_http_methods(["GET", "POST"])
@login_required
def password_change(request: HtmxHttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, PASSWORD_CHANGED)
        return redirect("accounts:password-change")
    return render(request, "accounts/password_change.html", {"form": form})


# --- workspaces ------------------------------------------------------------------------------


@require_POST
@login_required
def switch_workspace(request: HtmxHttpRequest) -> HttpResponse:
    form = SwitchWorkspaceForm(request.POST)
    if not form.is_valid():
        raise Http404("No such workspace.")
    membership = membership_for(request.user, form.cleaned_data["workspace_id"])
    request.session[SESSION_WORKSPACE_KEY] = membership.workspace_id
    messages.success(request, SWITCHED.format(workspace=membership.workspace.name))
    return redirect(_safe_next(request, form.cleaned_data["next"], reverse("home")))


@require_http_methods(["GET", "POST"])
@login_required
def workspace_create(request: HtmxHttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as error:
            _add_service_error(form, error, default_field="name")
        else:
            request.session[SESSION_WORKSPACE_KEY] = workspace.pk
            messages.success(request, WORKSPACE_CREATED.format(workspace=workspace.name))
            return redirect("accounts:settings")
    return render(request, "accounts/workspace_create.html", {"form": form})


@require_http_methods(["GET"])
@login_required
def settings_page(request: HtmxHttpRequest) -> HttpResponse:
    actor = current_membership(request)
    if actor is None:
        messages.info(request, NO_WORKSPACE)
        return redirect("accounts:workspace-create")
    return _render_settings(request, actor)


@require_http_methods(["GET", "POST"])
@login_required
def workspace_rename(request: HtmxHttpRequest, workspace_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
    form = WorkspaceForm(request.POST)
    if form.is_valid():
        try:
            workspace = services.workspace_update(workspace=actor.workspace, name=form.cleaned_data["name"])
        except ValidationError as error:
            _add_service_error(form, error, default_field="name")
        else:
            messages.success(request, WORKSPACE_RENAMED.format(workspace=workspace.name))
            return _back_to_settings(request, workspace_id)
    return _render_settings(request, actor, partial="rename", rename_form=form)


@require_http_methods(["GET", "POST"])
@login_required
def member_invite(request: HtmxHttpRequest, workspace_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
    form = InviteForm(request.POST, roles=_grantable_roles(actor))
    if form.is_valid():
        try:
            member = services.member_invite(
                actor=actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except ValidationError as error:
            _add_service_error(form, error, default_field="email")
        else:
            text = MEMBER_INVITED.format(email=member.user.email, role=member.get_role_display().lower())
            if _wants_fragment(request):
                return toast(_render_settings(request, actor, partial="members"), text)
            messages.success(request, text)
            return _back_to_settings(request, workspace_id)
    return _render_settings(request, actor, partial="members", invite_form=form)


@require_http_methods(["GET", "POST"])
@login_required
def member_role(request: HtmxHttpRequest, workspace_id: int, user_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
    member = _member_or_404(actor, user_id)
    form = RoleForm(request.POST)
    level, text = "error", INVALID_CHOICE
    if form.is_valid():
        try:
            member = services.member_change_role(actor=actor, member=member, role=form.cleaned_data["role"])
        except ValidationError as error:
            text = _error_text(error)
        else:
            level, text = "success", ROLE_CHANGED.format(name=member.user.name, role=member.get_role_display().lower())
    if not _wants_fragment(request):
        _message(request, text, level)
        return _back_to_settings(request, workspace_id)
    if level == "success" and member.pk == actor.pk:
        # Your own role changed: what you may do on the page changed too.
        _message(request, text, level)
        return HttpResponseClientRefresh()
    member = _member_or_404(actor, user_id)
    response = render(
        request, "accounts/settings.html#member-row", {"row": _row(actor, member), "workspace": actor.workspace}
    )
    return toast(response, text, level)


@require_http_methods(["GET", "POST"])
@login_required
def member_remove(request: HtmxHttpRequest, workspace_id: int, user_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id)
    member = _member_or_404(actor, user_id)
    try:
        services.member_remove(actor=actor, member=member)
    except ValidationError as error:
        level, text = "error", _error_text(error)
    else:
        level, text = "success", MEMBER_REMOVED.format(name=member.user.name)
    if not _wants_fragment(request):
        _message(request, text, level)
        if level == "success" and member.pk == actor.pk:
            request.session.pop(SESSION_WORKSPACE_KEY, None)
            return redirect("home")
        return _back_to_settings(request, workspace_id)
    if level == "error":
        response = render(
            request, "accounts/settings.html#member-row", {"row": _row(actor, member), "workspace": actor.workspace}
        )
        return toast(response, text, level)
    return toast(HttpResponse(""), text, level)


@require_http_methods(["GET", "POST"])
@login_required
def ownership_transfer(request: HtmxHttpRequest, workspace_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id, min_role=Role.OWNER)
    form = MemberChoiceForm(request.POST)
    if not form.is_valid():
        raise Http404("No such member in this workspace.")
    member = _member_or_404(actor, form.cleaned_data["user_id"])
    try:
        services.ownership_transfer(actor=actor, member=member)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, OWNERSHIP_TRANSFERRED.format(name=member.user.name))
    return _back_to_settings(request, workspace_id)


@require_http_methods(["GET", "POST"])
@login_required
def leave(request: HtmxHttpRequest, workspace_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id)
    try:
        services.member_remove(actor=actor, member=actor)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back_to_settings(request, workspace_id)
    if request.session.get(SESSION_WORKSPACE_KEY) == workspace_id:
        del request.session[SESSION_WORKSPACE_KEY]
    messages.success(request, LEFT_WORKSPACE.format(workspace=actor.workspace.name))
    return redirect("home")


@require_http_methods(["GET", "POST"])
@login_required
def workspace_delete(request: HtmxHttpRequest, workspace_id: int) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:settings")
    actor = membership_for(request.user, workspace_id, min_role=Role.OWNER)
    name = actor.workspace.name
    try:
        services.workspace_delete(workspace=actor.workspace, actor=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back_to_settings(request, workspace_id)
    if request.session.get(SESSION_WORKSPACE_KEY) == workspace_id:
        del request.session[SESSION_WORKSPACE_KEY]
    messages.success(request, WORKSPACE_DELETED.format(workspace=name))
    return redirect("home")
