"""Access matrix over every URL of the studio (see tests/security/matrix.py for the rules).

For each endpoint and method the URLconf serves, six actors (owner, admin, editor, viewer of the team's
workspace; an outsider who owns another workspace; anonymous) call it on an object of the team's
workspace and on the same kind of object in the other workspace. Every call runs in a savepoint that is
rolled back, so each actor sees the same fresh world (deletes included).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from studio.permissions import SESSION_WORKSPACE_KEY
from studio.testing import clear_test_cache
from tests.security import matrix
from tests.security.matrix import (
    ALLOWED,
    ANONYMOUS,
    FORBIDDEN,
    MISSING,
    SESSION,
    Body,
    Ctx,
    Endpoint,
    Rule,
    World,
)

ENDPOINTS = matrix.discover()
TRACE = os.environ.get("MATRIX_TRACE", "")  # a file to append every call's answer to (for reading the matrix)


def _methods(endpoint: Endpoint) -> tuple[str, ...]:
    rule = matrix.RULES.get(endpoint.name)
    if endpoint.methods:
        return endpoint.methods
    return tuple(rule.access) if rule else ("?",)


CASES = [(endpoint, method) for endpoint in ENDPOINTS for method in _methods(endpoint)]


def _case_id(case: tuple[Endpoint, str]) -> str:
    return f"{case[0].name}-{case[1]}"


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Both workspaces with one object of every kind, built once for the module and rolled back after."""
    media = tmp_path_factory.mktemp("matrix-media")
    # Provider calls (the key check) go to a closed local port: a quick, network-free failure.
    closed = dict.fromkeys(settings.PROVIDER_BASE_URLS, "http://127.0.0.1:9/v1")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media), PROVIDER_BASE_URLS=closed):
        from providers.catalog import load_default_models
        from providers.models import ModelInfo
        from templates_app.models import Category
        from templates_app.services import starter_templates_load

        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            if not ModelInfo.objects.filter(workspace__isnull=True).exists():
                load_default_models(ModelInfo, update=False)
            if not Category.objects.exists():
                starter_templates_load()
            yield matrix.build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _path(endpoint: Endpoint, rule: Rule, ctx: Ctx, query: dict[str, Any] | None) -> str:
    kwargs = {
        name: matrix.kwarg_value(ctx.side, name, rule.kwargs.get(name) or matrix.KWARG_OBJECTS[name])
        for name in endpoint.kwargs
    }
    path = reverse(endpoint.name, kwargs=kwargs)
    return f"{path}?{urlencode(query)}" if query else path


def _client(endpoint: Endpoint, user: User | None, rule: Rule, ctx: Ctx) -> Any:
    if endpoint.api:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
        if rule.scope == SESSION:
            session = client.session
            session[SESSION_WORKSPACE_KEY] = ctx.session_workspace
            session.save()
    return client


def _send(endpoint: Endpoint, rule: Rule, method: str, ctx: Ctx) -> Any:
    query = rule.query(ctx) if rule.query else None
    builder = rule.body.get(method)
    body = builder(ctx) if builder else None
    if body is not None and not isinstance(body, Body):
        body = Body(body)
    client = _client(endpoint, ctx.actor, rule, ctx)
    call = getattr(client, method.lower())
    if method == "GET":
        return call(_path(endpoint, rule, ctx, None), query or {})
    path = _path(endpoint, rule, ctx, query)
    if body is None:
        return call(path, format="json") if endpoint.api else call(path)
    if body.kind == "json" or (body.kind == "default" and endpoint.api):
        return call(path, json.dumps(body.data), content_type="application/json")
    if endpoint.api:
        return call(path, body.data, format="multipart")
    if method == "POST":
        return call(path, body.data)
    from django.test.client import MULTIPART_CONTENT, encode_multipart

    return call(path, encode_multipart("BoUnDaRy", body.data), content_type=MULTIPART_CONTENT)


def _verdict(endpoint: Endpoint, rule: Rule, method: str, want: str, status: int, response: Any) -> str | None:
    """None when the answer is the expected one, else what was wrong."""
    login = reverse(settings.LOGIN_URL)
    location = response.get("Location", "") if hasattr(response, "get") else ""
    if want == ALLOWED:
        if status in rule.also_ok.get(method, ()):
            return None
        top = 300 if endpoint.api else 400
        if 200 <= status < top and not (300 <= status < 400 and location.startswith(login)):
            return None
        return f"expected {ALLOWED}, got {status}"
    if want == FORBIDDEN:
        return None if status == 403 else f"expected 403 (role too low), got {status}"
    if want == MISSING:
        return None if status == 404 else f"expected 404 (another workspace), got {status}"
    if endpoint.api:
        return None if status == 401 else f"expected 401 (anonymous), got {status}"
    if status == 302 and location.startswith(login):
        return None
    return f"expected a redirect to {login} (anonymous), got {status} {location}"


def run_case(world: World, endpoint: Endpoint, rule: Rule, method: str, actor: str, target: str) -> str | None:
    """One call in a savepoint that is rolled back; None when the answer is right, else the problem."""
    user = world.users.get(actor) if actor != ANONYMOUS else None
    ctx = Ctx(side=world.side(target), actor=user, world=world)
    if rule.scope == SESSION:
        # The session names the target workspace; a non-member acts in their own one instead, so the
        # body is built for the workspace the actor really acts in.
        home = "own" if matrix.actor_role(actor, "own") else "other"
        ctx = Ctx(side=world.side(home), actor=user, world=world, session_workspace=world.side(target).workspace.pk)
    want = matrix.expected(rule, method, actor, target)
    with transaction.atomic():
        clear_test_cache()
        try:
            response = _send(endpoint, rule, method, ctx)
            content = matrix.read_body(response)
            status = response.status_code
        except Exception as exc:  # a 500: the test client re-raises the view's exception
            transaction.set_rollback(True)
            return f"expected {want}, the view raised {type(exc).__name__}: {str(exc)[:200]}"
        transaction.set_rollback(True)
    problem = _verdict(endpoint, rule, method, want, status, response)
    if TRACE:
        with open(TRACE, "a") as trace:
            trace.write(f"{endpoint.name}\t{method}\t{actor}\t{target}\t{want}\t{status}\t{problem or 'ok'}\n")
    if problem:
        detail = content[:160].decode("utf-8", "replace").replace("\n", " ")
        return f"{problem} ({detail})" if endpoint.api else problem
    members_of = {key for key in ("own", "other") if matrix.actor_role(actor, key)}
    for key, marker in matrix.MARKERS.items():
        if key not in members_of and marker.encode() in content:
            return f"answer {status} shows an object of the {key} workspace, which the actor is not a member of"
    return None


@pytest.mark.parametrize(("endpoint", "method"), CASES, ids=[_case_id(c) for c in CASES])
def test_access_matrix(world: World, db: Any, endpoint: Endpoint, method: str) -> None:
    rule = matrix.RULES.get(endpoint.name)
    assert rule is not None, matrix.missing_rule_message(endpoint)
    assert method in rule.access, matrix.missing_rule_message(endpoint, method)
    problems = []
    for actor in matrix.ACTORS:
        for target in matrix.targets_for(rule):
            problem = run_case(world, endpoint, rule, method, actor, target)
            if problem:
                problems.append(f"  {actor:>9} on {target:<5}: {problem}")
    assert not problems, f"{method} {endpoint.route} ({endpoint.name}, {endpoint.view}):\n" + "\n".join(problems)


def test_every_rule_matches_an_endpoint_and_its_methods() -> None:
    """Stale rules (a renamed URL, a method the view no longer accepts) fail too."""
    by_name = {endpoint.name: endpoint for endpoint in ENDPOINTS}
    stale = sorted(set(matrix.RULES) - set(by_name))
    assert not stale, f"rules for URLs that no longer exist: {stale}"
    wrong = {
        name: (sorted(rule.access), list(by_name[name].methods))
        for name, rule in matrix.RULES.items()
        if by_name[name].methods and set(rule.access) != set(by_name[name].methods)
    }
    assert not wrong, f"rule methods differ from the methods the views accept (rule, view): {wrong}"
    undeclared = [e.name for e in ENDPOINTS if not e.methods]
    assert not undeclared, f"views that do not declare their HTTP methods (add require_http_methods): {undeclared}"


def test_a_url_without_a_rule_is_reported_with_its_route() -> None:
    endpoint = Endpoint(
        name="accounts:member-role",
        route="/accounts/workspaces/<id:workspace_id>/members/<id:user_id>/role/",
        methods=("POST",),
        kwargs=("workspace_id", "user_id"),
        view="accounts.views.member_role",
    )
    assert matrix.missing_rule_message(endpoint) == (
        "no access rule for accounts:member-role (POST /accounts/workspaces/<id:workspace_id>/members/"
        "<id:user_id>/role/): add it to RULES in tests/security/matrix.py"
    )


def test_an_endpoint_without_a_rule_fails_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new URL is covered automatically: until its rule is written, its matrix case fails."""
    endpoint = next(e for e in ENDPOINTS if e.name == "accounts:member-role")
    monkeypatch.delitem(matrix.RULES, "accounts:member-role")
    with pytest.raises(AssertionError, match=r"no access rule for accounts:member-role \(GET/POST /accounts/"):
        test_access_matrix(world=None, db=None, endpoint=endpoint, method="POST")  # type: ignore[arg-type]


def test_discovery_finds_pages_and_api_endpoints_of_every_app() -> None:
    names = {endpoint.name for endpoint in ENDPOINTS}
    apps = {name.split(":")[0] for name in names if ":" in name}
    assert {"accounts", "prompts", "templates_app", "providers", "abtests", "analytics", "exports", "api"} <= apps
    assert not any(e.route.startswith(("/admin/", "/static/", "/media/")) for e in ENDPOINTS)
    assert "api:schema" not in names
    assert next(e for e in ENDPOINTS if e.name == "api:prompt-detail").methods == ("GET", "PATCH", "DELETE")
    assert next(e for e in ENDPOINTS if e.name == "prompts:delete").methods == ("POST",)


def test_matrix_size(capsys: pytest.CaptureFixture[str]) -> None:
    """The number of checked calls: endpoints x methods x actors x targets (the issue note quotes it)."""
    calls = 0
    for endpoint, _method in CASES:
        rule = matrix.RULES.get(endpoint.name)
        if rule is None:
            continue
        calls += len(matrix.ACTORS) * len(matrix.targets_for(rule))
    endpoints = len({e.name for e in ENDPOINTS})
    api = len({e.name for e in ENDPOINTS if e.api})
    with capsys.disabled():
        print(
            f"\naccess matrix: {endpoints} endpoints ({api} API, {endpoints - api} pages), "
            f"{len(CASES)} endpoint-methods, {len(matrix.ACTORS)} actors, up to 2 targets = {calls} checked calls"
        )
    assert calls >= len(CASES) * len(matrix.ACTORS)


# --- outside the matrix ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_django_admin_sends_a_non_staff_member_to_the_admin_login(client: Client, team: Any) -> None:
    client.force_login(team.owner)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api:schema", "api:docs"])
def test_schema_and_docs_answer_anonymous_and_signed_in_callers(name: str, client: Client, team: Any) -> None:
    assert client.get(reverse(name)).status_code == 200
    client.force_login(team.viewer)
    assert client.get(reverse(name)).status_code == 200


def test_the_world_has_every_kind_of_object_in_both_workspaces(world: World, db: Any) -> None:
    for side in (world.own, world.other):
        for name in ("prompt", "version", "asset", "template", "dataset", "row", "test", "draft", "run"):
            obj = getattr(side, name)
            assert obj is not None, name
            workspace_id = getattr(obj, "workspace_id", None) or getattr(
                getattr(obj, "prompt", None) or getattr(obj, "dataset", None), "workspace_id", None
            )
            assert workspace_id == side.workspace.pk, name
        assert side.credential.workspace_id == side.model.workspace_id == side.workspace.pk
        assert Path(settings.MEDIA_ROOT).exists()
