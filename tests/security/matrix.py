"""The access matrix: every URL the URLconf serves, who may call it, and what a refusal looks like.

``discover()`` walks ``get_resolver()`` and lists every endpoint (route, namespaced name, view, the HTTP
methods the view accepts). ``RULES`` says, per URL name and method, the minimum role and how to build a
request for an object of a given workspace. ``tests/security/test_access_matrix.py`` crosses the two
with six actors and two workspaces. A URL without a rule here fails that test until its rule is written.

Minimum roles (``Access``):

* ``PUBLIC``  - anyone, signed in or not (sign-up, log-in, token endpoints, health check);
* ``AUTH``    - any signed-in user (their own account and workspace list);
* ``viewer`` / ``editor`` / ``admin`` / ``owner`` - a member of the object's workspace with that role or higher.

Scopes (how the target workspace is named in the request):

* ``OBJECT``  - URL kwargs name an object (``/prompts/<prompt_id>/``): the object belongs to the target;
* ``PARAM``   - a collection endpoint names the workspace in the query string or the body;
* ``SESSION`` - a page that acts in the browser's current workspace (the switcher's session key);
  the matrix points the session at the target workspace, which must be ignored for a non-member;
* ``USER``    - about the signed-in user only (no workspace in the request).

Expected answers: allowed -> 2xx (API) or 2xx/3xx (pages), or a rule's documented alternative;
role too low -> 403; the target workspace is not the actor's -> 404 (never 403);
anonymous -> 401 (API) or a redirect to the log-in page (pages).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Membership, Role, User, Workspace

PUBLIC = "anonymous-ok"
AUTH = "authenticated"
VIEWER, EDITOR, ADMIN, OWNER = Role.VIEWER.value, Role.EDITOR.value, Role.ADMIN.value, Role.OWNER.value
RANK = {VIEWER: 1, EDITOR: 2, ADMIN: 3, OWNER: 4}

OBJECT, PARAM, SESSION, USER = "object", "param", "session", "user"

# The actors: four members of the team's workspace, an outsider (owner of another workspace), nobody.
MEMBER_ROLES = (OWNER, ADMIN, EDITOR, VIEWER)
OUTSIDER, ANONYMOUS = "outsider", "anonymous"
ACTORS = (*MEMBER_ROLES, OUTSIDER, ANONYMOUS)
TARGETS = ("own", "other")  # the team's workspace, the outsider's workspace

# Left out of the matrix (each has its own test): django-admin (staff only, by Django), static and
# media serving, and the OpenAPI schema and its docs page.
EXCLUDED_PREFIXES = ("admin/", "static/", "media/")
EXCLUDED_NAMES = frozenset({"api:schema", "api:docs"})

# Distinct strings in each workspace's name and its objects' names: a response to an actor must never
# contain the marker of a workspace the actor is not a member of.
MARKERS = {"own": "mkteamq7", "other": "mkotherq7"}

PASSWORD = "matrix-password-1"


# --- discovery ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str  # "/api/prompts/<id:prompt_id>/"
    methods: tuple[str, ...]  # upper-case; empty when the view does not declare them
    kwargs: tuple[str, ...]
    view: str  # dotted path, for messages

    @property
    def api(self) -> bool:
        return self.route.startswith("/api/")


def _declared_methods(callback: Any) -> tuple[str, ...]:
    """Methods a view accepts: a DRF view's handlers, or a ``require_http_methods`` decorator's list."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        names = getattr(cls, "http_method_names", [])
        return tuple(m.upper() for m in names if m not in ("options", "head", "trace") and hasattr(cls, m))
    func = callback
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and func.__closure__:
            for var, cell in zip(code.co_freevars, func.__closure__, strict=True):
                if var == "request_method_list":
                    return tuple(m.upper() for m in cell.cell_contents if m.upper() != "HEAD")
        func = getattr(func, "__wrapped__", None)
    return ()


def _view_name(callback: Any) -> str:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    target = cls or callback
    return f"{target.__module__}.{target.__qualname__}"


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Endpoint]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            inner = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            callback = entry.callback
            yield Endpoint(
                name=name or f"<unnamed {route}>",
                route="/" + route,
                methods=_declared_methods(callback),
                kwargs=tuple(entry.pattern.converters),
                view=_view_name(callback),
            )


def discover() -> list[Endpoint]:
    """Every endpoint of the URLconf except django-admin, static/media serving and the schema/docs."""
    found = []
    for endpoint in _walk(get_resolver().url_patterns, "", ""):
        if endpoint.route.lstrip("/").startswith(EXCLUDED_PREFIXES) or endpoint.name in EXCLUDED_NAMES:
            continue
        found.append(endpoint)
    return found


# --- the world: the same kinds of object in two workspaces --------------------------------------------


@dataclass
class Side:
    """One workspace and one object of every kind in it."""

    key: str  # "own" | "other"
    workspace: Workspace
    owner: User
    member: User  # a viewer the membership endpoints act on
    prompt: Any
    version: Any  # version 1 of ``prompt`` (labels staging -> v1, production -> v2)
    asset: Any
    template: Any
    dataset: Any
    row: Any
    test: Any  # a completed A/B test with trials
    draft: Any  # a draft A/B test (startable, editable, deletable)
    run: Any
    credential: Any
    model: Any  # a workspace custom model
    loose: Any  # a prompt no A/B test refers to (deletable)
    queued: Any  # a queued A/B test (cancellable)
    export: bytes  # a JSON export of one of the side's prompts
    trials: list[Any] = field(default_factory=list)

    @property
    def marker(self) -> str:
        return MARKERS[self.key]


@dataclass
class World:
    own: Side
    other: Side
    users: dict[str, User]  # actor name -> user (no entry for anonymous)
    invitee: User  # signed up, in no workspace: the invite endpoints add them

    def side(self, target: str) -> Side:
        return self.own if target == "own" else self.other


@dataclass
class Ctx:
    """What a rule's builders see: the target side, the acting user (None = anonymous), the world."""

    side: Side
    actor: User | None
    world: World
    session_workspace: int | None = None  # SESSION scope: the workspace the session names

    @property
    def ws(self) -> int:
        return self.side.workspace.pk


def _content(text: str = "Hello {{ name }}") -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "variables": [{"name": "name", "type": "text", "default": "Ada"}],
        "model": {"provider": "echo", "name": "echo"},
    }


def build_side(key: str, owner: User) -> Side:
    from abtests.services import abtest_start
    from abtests.tests.factories import make_test
    from exports.exporters import prompt_export
    from exports.tests.conftest import fill_workspace
    from prompts.services import prompt_create
    from providers.models import ModelInfo, Run
    from providers.services import credential_create, custom_model_create

    marker = MARKERS[key]
    workspace = Workspace.objects.create(name=f"Workspace {marker}")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    member = User.objects.create_user(email=f"member-{key}@matrix.test", password=PASSWORD)
    Membership.objects.create(workspace=workspace, user=member, role=Role.VIEWER)

    filled = fill_workspace(workspace, owner)
    draft = make_test(workspace, rows=2, name=f"Draft test {marker}", user=owner)
    queued = abtest_start(test=make_test(workspace, rows=2, name=f"Queued test {marker}", user=owner), enqueue=False)
    loose = prompt_create(workspace=workspace, user=owner, name="Portable", content=_content())
    export = prompt_export(prompt=loose, fmt="json").data  # before the marker goes into the name
    credential = credential_create(
        workspace=workspace, user=owner, provider="openai", api_key="sk-matrix-test-key-1234", label=f"key {marker}"
    )
    model = custom_model_create(workspace=workspace, model_id=f"local-{key}", display_name=f"Local {marker}")
    # Every object's name carries the workspace marker, so a leak shows up in any response body.
    for qs in (
        filled.prompt.__class__.objects.filter(workspace=workspace),
        filled.template.__class__.objects.filter(workspace=workspace),
        filled.dataset.__class__.objects.filter(workspace=workspace),
        draft.__class__.objects.filter(workspace=workspace),
        loose.__class__.objects.filter(pk=loose.pk),
    ):
        for obj in qs:
            obj.name = f"{obj.name} {marker}"
            obj.save(update_fields=["name"])
    prompt = filled.prompt.__class__.objects.get(pk=filled.prompt.pk)
    test = draft.__class__.objects.filter(workspace=workspace, status="completed").get()
    return Side(
        key=key,
        workspace=workspace,
        owner=owner,
        member=member,
        prompt=prompt,
        version=prompt.versions.get(number=1),
        asset=filled.image,
        template=filled.template,
        dataset=filled.dataset,
        row=filled.dataset.rows.order_by("pk").first(),
        test=test,
        draft=draft,
        run=Run.objects.filter(workspace=workspace).order_by("pk").first(),
        credential=credential,
        model=ModelInfo.objects.get(pk=model.pk),
        loose=loose,
        queued=queued,
        export=export,
        trials=list(test.trials.order_by("pk")),
    )


def build_world() -> World:
    users = {role: User.objects.create_user(email=f"{role}@matrix.test", password=PASSWORD) for role in MEMBER_ROLES}
    users[OUTSIDER] = User.objects.create_user(email="outsider@matrix.test", password=PASSWORD)
    own = build_side("own", users[OWNER])
    for role in (ADMIN, EDITOR, VIEWER):
        Membership.objects.create(workspace=own.workspace, user=users[role], role=role)
    other = build_side("other", users[OUTSIDER])
    # A second workspace each (created last, so the session fallback still picks the team's or the
    # outsider's): deleting the target workspace is then not refused as the actor's only one.
    for name, user in users.items():
        spare = Workspace.objects.create(name=f"Spare of {name}")
        Membership.objects.create(workspace=spare, user=user, role=Role.OWNER)
    invitee = User.objects.create_user(email="invitee@matrix.test", password=PASSWORD)
    return World(own=own, other=other, users=users, invitee=invitee)


# --- rules -------------------------------------------------------------------------------------------

# Which object of a side fills each URL kwarg (a rule can point a kwarg at another object).
KWARG_OBJECTS = {
    "workspace_id": "workspace",
    "user_id": "member",
    "prompt_id": "prompt",
    "number": "version_number",
    "label": "label",
    "asset_id": "asset",
    "template_id": "template",
    "version_id": "version",
    "dataset_id": "dataset",
    "row_id": "row",
    "test_id": "test",
}


def kwarg_value(side: Side, kwarg: str, obj: str) -> Any:
    if obj == "version_number":
        return side.version.number
    if obj == "label":
        return "staging"
    return getattr(side, obj).pk


Builder = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Body:
    data: Any
    kind: str = "default"  # "default" (JSON for the API, form for pages) | "json" | "multipart" | "query"


@dataclass(frozen=True)
class Rule:
    access: dict[str, str]  # method -> minimum (PUBLIC, AUTH or a role)
    scope: str = OBJECT
    kwargs: dict[str, str] = field(default_factory=dict)  # kwarg -> Side attribute (overrides KWARG_OBJECTS)
    body: dict[str, Builder] = field(default_factory=dict)  # method -> Ctx -> data or Body
    query: Builder | None = None  # Ctx -> query-string dict (every method)
    also_ok: dict[str, tuple[int, ...]] = field(default_factory=dict)  # method -> accepted non-2xx for allowed
    why: str = ""  # why an alternative answer is fine


def png() -> bytes:
    from exports.tests.media import png_bytes

    return png_bytes()


def png_upload(name: str = "pic.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


def csv_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("rows.csv", b"question,expected\nhello,hello\nbye,bye\n", content_type="text/csv")


def export_upload(ctx: Ctx) -> SimpleUploadedFile:
    """A real export of a prompt of the target workspace (exports.exporters), to import back."""
    return SimpleUploadedFile("export.json", ctx.side.export, content_type="application/json")


def ws_query(ctx: Ctx) -> dict[str, Any]:
    return {"workspace": ctx.ws}


def _variant(ctx: Ctx, name: str) -> dict[str, Any]:
    return {"name": name, "prompt_version": ctx.side.version.pk, "provider": "echo", "model": "echo"}


def _test_input(ctx: Ctx) -> dict[str, Any]:
    return {
        "workspace": ctx.ws,
        "name": f"New test {uuid.uuid4().hex[:6]}",
        "dataset": ctx.side.dataset.pk,
        "variants": [_variant(ctx, "A"), _variant(ctx, "B")],
    }


def _builder_form(ctx: Ctx) -> dict[str, Any]:
    """The A/B test builder's form, saved as is (two echo variants over the side's dataset)."""
    form = {
        "action": "save",
        "name": f"Built {uuid.uuid4().hex[:6]}",
        "dataset": ctx.side.dataset.pk,
        "repetitions": "1",
        "pass_threshold": "1",
        "concurrency": "4",
        "control": "0",
        "variant_count": "2",
        "evaluator_count": "0",
    }
    for i in range(2):
        form |= {f"v{i}-name": f"V{i}", f"v{i}-source": f"version:{ctx.side.version.pk}", f"v{i}-target": "echo|echo"}
    return form


def _playground(ctx: Ctx, **extra: Any) -> Body:
    return Body(
        {"workspace": ctx.ws, "draft": {"user": "Say hello."}, "targets": [{"model": "echo:echo"}], **extra},
        kind="json",
    )


def _custom_model(ctx: Ctx) -> dict[str, Any]:
    return {"workspace": ctx.ws, "model_id": f"m-{uuid.uuid4().hex[:6]}", "provider": "openai_compatible"}


def _member_user(ctx: Ctx) -> int:
    return int(ctx.side.member.pk)


R = Rule
RULES: dict[str, Rule] = {
    # --- studio ---
    "home": R({"GET": VIEWER}, scope=SESSION),
    "healthz": R({"GET": PUBLIC}, scope=USER),
    # --- accounts pages ---
    "accounts:signup": R(
        {"GET": PUBLIC, "POST": PUBLIC},
        scope=USER,
        body={
            "POST": lambda c: {
                "email": f"new-{uuid.uuid4().hex[:8]}@matrix.test",
                "display_name": "New",
                "password1": "a-long-enough-password-42",
                "password2": "a-long-enough-password-42",
            }
        },
    ),
    "accounts:login": R(
        {"GET": PUBLIC, "POST": PUBLIC},
        scope=USER,
        body={"POST": lambda c: {"email": c.world.users[VIEWER].email, "password": PASSWORD}},
    ),
    "accounts:logout": R(
        {"POST": PUBLIC}, scope=USER, also_ok={"POST": (302,)}, why="log-out lands on the log-in page"
    ),
    "accounts:password-change": R(
        {"GET": AUTH, "POST": AUTH},
        scope=USER,
        body={
            "POST": lambda c: {
                "old_password": PASSWORD,
                "new_password1": "another-long-password-42",
                "new_password2": "another-long-password-42",
            }
        },
    ),
    "accounts:switch-workspace": R(
        {"POST": VIEWER}, scope=PARAM, body={"POST": lambda c: {"workspace_id": c.ws, "next": "/"}}
    ),
    "accounts:settings": R({"GET": AUTH}, scope=USER),
    "accounts:workspace-create": R({"GET": AUTH, "POST": AUTH}, scope=USER, body={"POST": lambda c: {"name": "Fresh"}}),
    "accounts:workspace-rename": R({"GET": AUTH, "POST": ADMIN}, body={"POST": lambda c: {"name": "Renamed"}}),
    "accounts:member-invite": R(
        {"GET": AUTH, "POST": ADMIN},
        body={"POST": lambda c: {"email": c.world.invitee.email, "role": EDITOR}},
    ),
    "accounts:member-role": R({"GET": AUTH, "POST": ADMIN}, body={"POST": lambda c: {"role": EDITOR}}),
    "accounts:member-remove": R({"GET": AUTH, "POST": ADMIN}),
    "accounts:transfer": R({"GET": AUTH, "POST": OWNER}, body={"POST": lambda c: {"user_id": _member_user(c)}}),
    "accounts:leave": R(
        {"GET": AUTH, "POST": VIEWER},
        also_ok={"POST": (400, 409)},
        why="the only owner cannot leave; the page says so",
    ),
    "accounts:workspace-delete": R(
        {"GET": AUTH, "POST": OWNER}, body={"POST": lambda c: {"confirm": c.side.workspace.name}}
    ),
    # --- accounts API ---
    "api:register": R(
        {"POST": PUBLIC},
        scope=USER,
        body={"POST": lambda c: {"email": f"api-{uuid.uuid4().hex[:8]}@matrix.test", "password": "a-long-password-42"}},
    ),
    "api:token": R(
        {"POST": PUBLIC},
        scope=USER,
        body={"POST": lambda c: {"email": c.world.users[VIEWER].email, "password": PASSWORD}},
    ),
    "api:token-refresh": R({"POST": PUBLIC}, scope=USER, body={"POST": lambda c: {"refresh": refresh_token(c)}}),
    "api:token-verify": R({"POST": PUBLIC}, scope=USER, body={"POST": lambda c: {"token": refresh_token(c)}}),
    "api:logout": R({"POST": PUBLIC}, scope=USER, body={"POST": lambda c: {"refresh": refresh_token(c)}}),
    "api:me": R({"GET": AUTH, "PATCH": AUTH}, scope=USER, body={"PATCH": lambda c: {"display_name": "Me"}}),
    "api:workspace-list": R({"GET": AUTH, "POST": AUTH}, scope=USER, body={"POST": lambda c: {"name": "Fresh"}}),
    "api:workspace-detail": R(
        {"GET": VIEWER, "PATCH": ADMIN, "DELETE": OWNER}, body={"PATCH": lambda c: {"name": "Renamed"}}
    ),
    "api:member-list": R(
        {"GET": VIEWER, "POST": ADMIN},
        body={"POST": lambda c: {"email": c.world.invitee.email, "role": EDITOR}},
    ),
    "api:member-detail": R({"PATCH": ADMIN, "DELETE": ADMIN}, body={"PATCH": lambda c: {"role": EDITOR}}),
    "api:workspace-transfer": R({"POST": OWNER}, body={"POST": lambda c: {"user_id": _member_user(c)}}),
    # --- prompts pages ---
    "prompts:list": R({"GET": VIEWER}, scope=SESSION),
    "prompts:new": R(
        {"GET": EDITOR, "POST": EDITOR},
        scope=SESSION,
        body={"POST": lambda c: {"name": "Brand new", "content": json.dumps(_content()), "message": "v1"}},
    ),
    "prompts:upload": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: Body({"workspace": c.ws, "file": png_upload()}, "multipart")},
    ),
    "prompts:detail": R(
        {"GET": VIEWER, "POST": EDITOR},
        body={
            "POST": lambda c: {
                "name": "Edited",
                "content": json.dumps(_content("Changed {{ name }}")),
                "message": "edit",
            }
        },
    ),
    "prompts:history": R({"GET": VIEWER}),
    "prompts:diff": R({"GET": VIEWER}, query=lambda c: {"from": 1, "to": 2}),
    "prompts:version": R({"GET": VIEWER}),
    "prompts:restore": R({"POST": EDITOR}),
    "prompts:label-set": R({"POST": EDITOR}, body={"POST": lambda c: {"label": "staging", "version": 2}}),
    "prompts:label-remove": R({"POST": EDITOR}),
    "prompts:duplicate": R({"POST": EDITOR}),
    "prompts:archive": R({"POST": EDITOR}),
    "prompts:delete": R({"POST": ADMIN}, kwargs={"prompt_id": "loose"}),
    # --- prompts API ---
    "api:prompt-list": R(
        {"GET": VIEWER, "POST": EDITOR},
        scope=PARAM,
        query=lambda c: {"workspace": c.ws},
        body={"POST": lambda c: {"workspace": c.ws, "name": "API prompt", "content": _content()}},
    ),
    "api:prompt-resolve": R(
        {"GET": VIEWER},
        scope=PARAM,
        query=lambda c: {"workspace": c.ws, "name": c.side.prompt.slug, "label": "production"},
    ),
    "api:prompt-detail": R(
        {"GET": VIEWER, "PATCH": EDITOR, "DELETE": ADMIN},
        kwargs={"prompt_id": "loose"},
        body={"PATCH": lambda c: {"description": "changed"}},
    ),
    "api:prompt-duplicate": R({"POST": EDITOR}, body={"POST": lambda c: {"name": "Copy"}}),
    "api:version-list": R(
        {"GET": VIEWER, "POST": EDITOR}, body={"POST": lambda c: {"content": _content("v3 {{ name }}"), "message": "m"}}
    ),
    "api:version-detail": R({"GET": VIEWER}),
    "api:version-restore": R({"POST": EDITOR}),
    "api:prompt-diff": R({"GET": VIEWER}, query=lambda c: {"from": 1, "to": 2}),
    "api:label-list": R({"GET": VIEWER}),
    "api:label-detail": R({"PUT": EDITOR, "DELETE": EDITOR}, body={"PUT": lambda c: {"version": 2}}),
    "api:prompt-render": R({"POST": VIEWER}, body={"POST": lambda c: {"version": 1, "variables": {}}}),
    "api:asset-list": R(
        {"GET": VIEWER, "POST": EDITOR},
        scope=PARAM,
        query=lambda c: {"workspace": c.ws},
        body={"POST": lambda c: Body({"workspace": c.ws, "file": png_upload()}, "multipart")},
    ),
    "api:asset-detail": R({"GET": VIEWER}),
    "api:asset-content": R({"GET": VIEWER}),
    # --- templates ---
    "templates_app:gallery": R({"GET": VIEWER}, scope=SESSION),
    "templates_app:detail": R({"GET": VIEWER}),
    "templates_app:use": R({"POST": EDITOR}, body={"POST": lambda c: {"name": "From template"}}),
    "templates_app:delete": R({"POST": ADMIN}),
    "templates_app:from-version": R(
        {"GET": EDITOR, "POST": EDITOR},
        body={"POST": lambda c: {"name": f"Tpl {uuid.uuid4().hex[:6]}", "category": "other"}},
    ),
    "api:template-list": R(
        {"GET": VIEWER, "POST": EDITOR},
        scope=PARAM,
        query=lambda c: {"workspace": c.ws},
        body={"POST": lambda c: {"workspace": c.ws, "name": f"T {uuid.uuid4().hex[:6]}", "content": _content()}},
    ),
    "api:template-categories": R({"GET": VIEWER}, scope=PARAM, query=ws_query),
    "api:template-from-version": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: {"prompt": c.side.prompt.pk, "version": 1, "name": f"T {uuid.uuid4().hex[:6]}"}},
    ),
    "api:template-detail": R(
        {"GET": VIEWER, "PATCH": EDITOR, "DELETE": ADMIN}, body={"PATCH": lambda c: {"description": "changed"}}
    ),
    "api:template-instantiate": R(
        {"POST": EDITOR}, body={"POST": lambda c: {"workspace": c.ws, "name": "From template"}}
    ),
    # --- providers pages ---
    "providers:playground": R({"GET": VIEWER}, scope=SESSION),
    "providers:playground-stream": R({"POST": EDITOR}, scope=PARAM, body={"POST": lambda c: _playground(c)}),
    "providers:playground-estimate": R({"POST": VIEWER}, scope=PARAM, body={"POST": lambda c: _playground(c)}),
    "providers:playground-upload": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: Body({"workspace": c.ws, "file": png_upload()}, "multipart")},
    ),
    "providers:playground-save": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: _playground(c, prompt=c.side.prompt.pk, draft={"user": "Saved text."})},
    ),
    "providers:credentials": R(
        {"GET": VIEWER, "POST": ADMIN},
        scope=SESSION,
        body={"POST": lambda c: {"provider": "anthropic", "api_key": "sk-ant-matrix-9876", "label": "new"}},
    ),
    "providers:credential-replace": R(
        {"POST": ADMIN}, kwargs={"pk": "credential"}, body={"POST": lambda c: {"api_key": "sk-new-5555"}}
    ),
    "providers:credential-delete": R({"POST": ADMIN}, kwargs={"pk": "credential"}),
    "providers:credential-test": R({"POST": ADMIN}, kwargs={"pk": "credential"}),
    "providers:models": R(
        {"GET": VIEWER, "POST": ADMIN},
        scope=SESSION,
        body={"POST": lambda c: {"model_id": f"m-{uuid.uuid4().hex[:6]}", "context_window": 0}},
    ),
    "providers:model-delete": R({"POST": ADMIN}, kwargs={"pk": "model"}),
    # --- providers API ---
    "api:testing-run": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={
            "POST": lambda c: {
                "workspace": c.ws,
                "content": _content(),
                "targets": [{"provider": "echo", "model": "echo"}],
            }
        },
    ),
    "api:testing-estimate": R(
        {"POST": VIEWER},
        scope=PARAM,
        body={
            "POST": lambda c: {
                "workspace": c.ws,
                "content": _content(),
                "targets": [{"provider": "echo", "model": "echo"}],
            }
        },
    ),
    "api:testing-runs": R({"GET": VIEWER}, scope=PARAM, query=ws_query),
    "api:testing-run-detail": R({"GET": VIEWER}, kwargs={"pk": "run"}),
    "api:provider-credentials": R(
        {"GET": VIEWER, "POST": ADMIN},
        scope=PARAM,
        query=ws_query,
        body={"POST": lambda c: {"workspace": c.ws, "provider": "anthropic", "api_key": "sk-ant-matrix-9876"}},
    ),
    "api:provider-credential-detail": R(
        {"PUT": ADMIN, "DELETE": ADMIN}, kwargs={"pk": "credential"}, body={"PUT": lambda c: {"api_key": "sk-new-5555"}}
    ),
    "api:provider-credential-test": R({"POST": ADMIN}, kwargs={"pk": "credential"}),
    "api:provider-models": R({"GET": VIEWER, "POST": ADMIN}, scope=PARAM, query=ws_query, body={"POST": _custom_model}),
    "api:provider-model-detail": R({"DELETE": ADMIN}, kwargs={"pk": "model"}),
    # --- datasets and A/B tests pages ---
    "abtests:datasets": R({"GET": VIEWER}, scope=SESSION),
    "abtests:dataset-new": R(
        {"GET": EDITOR, "POST": EDITOR},
        scope=SESSION,
        body={"POST": lambda c: {"name": f"DS {uuid.uuid4().hex[:6]}", "col_name_0": "q", "col_type_0": "text"}},
    ),
    "abtests:dataset-import": R(
        {"GET": EDITOR, "POST": EDITOR},
        scope=SESSION,
        body={"POST": lambda c: Body({"file": csv_upload(), "name": "Imported", "action": "preview"}, "multipart")},
    ),
    "abtests:dataset-detail": R({"GET": VIEWER}),
    "abtests:dataset-edit": R({"GET": EDITOR, "POST": EDITOR}, body={"POST": lambda c: {"name": "Renamed DS"}}),
    "abtests:dataset-delete": R({"POST": ADMIN}),
    "abtests:row-add": R({"POST": EDITOR}, body={"POST": lambda c: {"subject": "new", "amount": "3"}}),
    "abtests:row": R({"GET": VIEWER}),
    "abtests:row-edit": R({"GET": EDITOR, "POST": EDITOR}, body={"POST": lambda c: {"subject": "changed"}}),
    "abtests:row-delete": R({"POST": EDITOR}),
    "abtests:list": R({"GET": VIEWER}, scope=SESSION),
    "abtests:new": R({"GET": EDITOR, "POST": EDITOR}, scope=SESSION, body={"POST": lambda c: _builder_form(c)}),
    "abtests:detail": R({"GET": VIEWER}),
    "abtests:edit": R(
        {"GET": EDITOR, "POST": EDITOR}, kwargs={"test_id": "draft"}, body={"POST": lambda c: _builder_form(c)}
    ),
    "abtests:progress": R({"GET": VIEWER}),
    "abtests:start": R({"POST": EDITOR}, kwargs={"test_id": "draft"}),
    "abtests:cancel": R({"POST": EDITOR}, kwargs={"test_id": "queued"}),
    "abtests:delete": R({"POST": EDITOR}, kwargs={"test_id": "draft"}),
    "abtests:results": R({"GET": VIEWER}),
    "abtests:trials": R({"GET": VIEWER}),
    "abtests:review-pairwise": R({"GET": EDITOR, "POST": EDITOR}),
    "abtests:review-rating": R({"GET": EDITOR, "POST": EDITOR}),
    # --- datasets and A/B tests API ---
    "api:dataset-list": R(
        {"GET": VIEWER, "POST": EDITOR},
        scope=PARAM,
        query=ws_query,
        body={
            "POST": lambda c: {
                "workspace": c.ws,
                "name": f"DS {uuid.uuid4().hex[:6]}",
                "columns": [{"name": "q", "type": "text"}],
                "rows": [{"q": "hi"}],
            }
        },
    ),
    "api:dataset-import": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: Body({"workspace": c.ws, "file": csv_upload(), "name": "Imported"}, "multipart")},
    ),
    "api:dataset-detail": R(
        {"GET": VIEWER, "PATCH": EDITOR, "DELETE": ADMIN}, body={"PATCH": lambda c: {"description": "changed"}}
    ),
    "api:dataset-rows": R(
        {"GET": VIEWER, "POST": EDITOR}, body={"POST": lambda c: {"values": {"subject": "new", "amount": 3}}}
    ),
    "api:dataset-row-detail": R(
        {"GET": VIEWER, "PATCH": EDITOR, "DELETE": EDITOR},
        body={"PATCH": lambda c: {"values": {"subject": "changed", "amount": 1}}},
    ),
    "api:test-list": R({"GET": VIEWER, "POST": EDITOR}, scope=PARAM, query=ws_query, body={"POST": _test_input}),
    "api:test-detail": R(
        {"GET": VIEWER, "PATCH": EDITOR, "DELETE": EDITOR},
        kwargs={"test_id": "draft"},
        body={"PATCH": lambda c: {"description": "changed"}},
    ),
    "api:test-estimate": R({"GET": VIEWER}, kwargs={"test_id": "draft"}),
    "api:test-start": R({"POST": EDITOR}, kwargs={"test_id": "draft"}),
    "api:test-cancel": R({"POST": EDITOR}, kwargs={"test_id": "queued"}),
    "api:test-results": R({"GET": VIEWER}),
    "api:test-trials": R({"GET": VIEWER}),
    "api:test-reviews": R(
        {"POST": EDITOR},
        body={"POST": lambda c: {"trial_a": c.side.trials[0].pk, "trial_b": c.side.trials[2].pk, "choice": "a"}},
    ),
    # --- analytics ---
    "analytics:dashboard": R({"GET": VIEWER}, scope=SESSION),
    "analytics:export": R({"GET": VIEWER}, scope=SESSION, query=lambda c: {"table": "summary"}),
    "analytics:prompt-usage": R({"GET": VIEWER}),
    "analytics:budget": R(
        {"GET": VIEWER, "POST": ADMIN}, scope=SESSION, body={"POST": lambda c: {"monthly_limit": "50", "hard_stop": ""}}
    ),
    "analytics:budget-remove": R({"POST": ADMIN}, scope=SESSION),
    "analytics:budget-indicator": R({"GET": VIEWER}, scope=SESSION),
    "api:analytics-summary": R({"GET": VIEWER}, scope=PARAM, query=ws_query),
    "api:analytics-timeseries": R({"GET": VIEWER}, scope=PARAM, query=ws_query),
    "api:analytics-breakdown": R({"GET": VIEWER}, scope=PARAM, query=lambda c: {"workspace": c.ws, "by": "model"}),
    # --- exports ---
    "exports:index": R({"GET": VIEWER}, scope=SESSION),
    "exports:download": R(
        {"GET": VIEWER}, scope=PARAM, query=lambda c: {"type": "prompt", "id": c.side.prompt.pk, "format": "json"}
    ),
    "exports:workspace": R(
        {"POST": VIEWER}, scope=SESSION, body={"POST": lambda c: {"media": "data-url", "format": "json"}}
    ),
    "exports:import": R(
        {"GET": EDITOR, "POST": EDITOR},
        scope=SESSION,
        body={"POST": lambda c: Body({"file": export_upload(c), "action": "preview"}, "multipart")},
    ),
    "exports:snippet": R({"GET": VIEWER}),
    "api:export-prompt": R({"GET": VIEWER}),
    "api:export-snippet": R({"GET": VIEWER}, query=lambda c: {"lang": "curl"}),
    "api:export-template": R({"GET": VIEWER}),
    "api:export-dataset": R({"GET": VIEWER}),
    "api:export-test": R({"GET": VIEWER}),
    "api:export-runs": R({"GET": VIEWER}, scope=PARAM, query=ws_query),
    "api:export-workspace": R(
        {"POST": VIEWER},
        scope=PARAM,
        body={"POST": lambda c: {"workspace": c.ws, "media": "data-url", "format": "json"}},
    ),
    "api:export-import": R(
        {"POST": EDITOR},
        scope=PARAM,
        body={"POST": lambda c: Body({"workspace": c.ws, "file": export_upload(c), "dry_run": "true"}, "multipart")},
    ),
    # --- audit ---
    "audit:log": R({"GET": ADMIN}, scope=SESSION),
    "api:audit-list": R({"GET": ADMIN}, scope=PARAM, query=ws_query),
}


def refresh_token(ctx: Ctx) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    user = ctx.actor or ctx.world.users[VIEWER]
    return str(RefreshToken.for_user(user))


# --- expectations ------------------------------------------------------------------------------------


ALLOWED, FORBIDDEN, MISSING, LOGIN = "allowed", "forbidden (403)", "not found (404)", "log in first"


def actor_role(actor: str, side_key: str) -> str | None:
    """The actor's role in the target side's workspace (None: not a member)."""
    if actor in MEMBER_ROLES:
        return actor if side_key == "own" else None
    if actor == OUTSIDER:
        return OWNER if side_key == "other" else None
    return None


def expected(rule: Rule, method: str, actor: str, target: str) -> str:
    minimum = rule.access[method]
    if minimum == PUBLIC:
        return ALLOWED
    if actor == ANONYMOUS:
        return LOGIN
    if minimum == AUTH or rule.scope == USER:
        return ALLOWED
    if rule.scope == SESSION:
        # The session names a workspace; a non-member's choice is ignored, so the actor acts in their own.
        role = actor_role(actor, "own") or actor_role(actor, "other")
    else:
        role = actor_role(actor, target)
        if role is None:
            return MISSING
    assert role is not None
    return ALLOWED if RANK[role] >= RANK[minimum] else FORBIDDEN


def targets_for(rule: Rule) -> tuple[str, ...]:
    return ("own",) if rule.scope == USER else TARGETS


def missing_rule_message(endpoint: Endpoint, method: str | None = None) -> str:
    methods = method or "/".join(endpoint.methods) or "?"
    return (
        f"no access rule for {endpoint.name} ({methods} {endpoint.route}): add it to RULES in tests/security/matrix.py"
    )


def read_body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)
