"""API fuzzing: schemathesis against the app's own /api/schema/, in-process over WSGI, with a real JWT.

One pytest test per operation (so each runs in its own rolled-back transaction: a DELETE only removes
its own test's data), every built-in check on (server errors, status codes, content types, response
headers and response bodies against the schema, negative data rejected, ...). Path parameters are
drawn from the ids of real objects in the fuzzing user's workspace half of the time, so operations
get past the 404 into their real code; a positive case's values that depend on stored data are made
valid for those objects (``_with_stored_data``), so schema-valid requests must be accepted (ST202) on
every operation. Bounded and derandomized: ``SCHEMATHESIS_MAX_EXAMPLES``
examples per operation (default 10).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from prompts.services import MAX_TAGS, TAG_RE
from studio.wsgi import application

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))

CHECKS = {
    "ST105": content_type_conformance,
    "ST108": response_schema_conformance,
    "ST201": negative_data_rejection,
    "ST202": positive_data_acceptance,
}
# Known mismatches still open, by operation ("METHOD /path": check codes): only the named check is skipped
# there, every other check still runs. None is open: rules that depend on stored data (a dataset's
# columns, a prompt's variables, a test's variants, a stored credential's provider) are met by
# ``_with_stored_data`` for positive cases, and every other rule is stated in the schema.
KNOWN: dict[str, tuple[str, ...]] = {}


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    return application(environ, start_response)


schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)


@dataclass
class World:
    token: str
    ids: dict[str, list[Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # the dataset's
    variables: list[str] = field(default_factory=list)  # the prompt's
    content: dict[str, Any] = field(default_factory=dict)  # a valid prompt document
    variants: int = 0  # the test's
    uploads: dict[str, bytes] = field(default_factory=dict)  # a valid file per upload operation


WORLD: list[World] = []


@pytest.fixture
def world(db: Any, settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A user who owns a workspace with a bit of everything; its ids feed the path parameters."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from abtests.tests.factories import make_test
    from accounts.models import Role
    from accounts.services import user_create
    from accounts.tests.factories import MembershipFactory, UserFactory
    from prompts.services import asset_create, label_set, version_create
    from prompts.tests.factories import png_bytes
    from providers.models import Run, RunSource, RunStatus
    from providers.services import credential_create
    from templates_app.services import template_create

    settings.MEDIA_ROOT = tmp_path / "media"
    # Provider calls go nowhere (connection refused at once) instead of waiting on the internet.
    settings.PROVIDER_BASE_URLS = dict.fromkeys(("openai", "anthropic", "mistral"), "http://127.0.0.1:9")
    settings.PROVIDER_MAX_RETRIES = 0
    settings.PROVIDER_TIMEOUT_SECONDS = 2.0
    # Throttles are tested elsewhere; here they would only turn examples into 429s.
    for scope in list(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]):
        monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scope, "100000/min")
    # The WSGI app runs inside the test's transaction: keep Django from closing the connection per request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)

    owner = user_create(email="fuzz@studio.test", password="fuzz-password-8812", display_name="Fuzz")
    workspace = owner.workspaces.get()
    member = MembershipFactory(workspace=workspace, role=Role.VIEWER, user=UserFactory(email="member@studio.test"))
    test = make_test(workspace, rows=3, name="fuzz test", user=owner)
    variant = test.variants.first()
    prompt = variant.prompt_version.prompt
    version_create(
        prompt=prompt,
        user=owner,
        content=variant.prompt_version.content
        | {"variables": variant.prompt_version.content.get("variables", [])}
        | {"messages": [{"role": "user", "content": [{"type": "text", "text": "v2 {{question}} {{marker}}"}]}]},
    )
    label_set(prompt=prompt, name="production", version=1, user=owner)
    template = template_create(
        workspace=workspace, user=owner, name="Fuzz template", content=variant.prompt_version.content
    )
    asset, _ = asset_create(workspace=workspace, user=owner, upload=SimpleUploadedFile("p.png", png_bytes()))
    credential = credential_create(
        workspace=workspace, user=owner, provider="openai", api_key="sk-fuzz-0123456789abcdef"
    )
    run = Run.objects.create(
        workspace=workspace,
        user=owner,
        prompt=prompt,
        provider="echo",
        model="echo",
        output="hi",
        status=RunStatus.OK,
        source=RunSource.API,
    )
    dataset = test.dataset
    ids = {
        "workspace_id": [workspace.pk],
        "user_id": [member.user_id],
        "prompt_id": [prompt.pk],
        "number": [1, 2],
        "label": ["production"],
        "template_id": [template.pk],
        "dataset_id": [dataset.pk],
        "row_id": list(dataset.rows.values_list("pk", flat=True)[:2]),
        "test_id": [test.pk],
        "asset_id": [str(asset.pk)],
    }
    # "{id}" is used by several resources: offer each of them.
    ids["id"] = [credential.pk, run.pk]
    from exports.exporters import prompt_export

    content = variant.prompt_version.content
    world = World(
        token=str(RefreshToken.for_user(owner).access_token),
        ids=ids,
        columns=[column["name"] for column in dataset.columns],
        variables=[variable["name"] for variable in content.get("variables", [])],
        content=content,
        variants=test.variants.count(),
        uploads={
            "POST /api/assets/": png_bytes(),
            "POST /api/datasets/import/": b"question,marker\nWhat is 2+2?,r1\n",
            "POST /api/exports/import/": prompt_export(prompt=prompt, fmt="json").data,
        },
    )
    WORLD.append(world)
    yield world
    WORLD.remove(world)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time, replace each generated path parameter with the id of a real object."""
    if not WORLD or not path_parameters:
        return st.just(path_parameters)
    ids = WORLD[-1].ids
    # Only where the generated value is valid for its parameter (type and format): a negative case (an
    # int mutated into a string, a uuid that isn't one) must stay invalid, or the request becomes valid
    # behind schemathesis' back.
    parameters = {parameter.name: parameter for parameter in context.operation.path_parameters}
    real = {
        name: st.sampled_from(ids[name])
        for name, value in path_parameters.items()
        if ids.get(name) and name in parameters and parameters[name].is_valid(value)
    }
    if not real:
        return st.just(path_parameters)
    return st.one_of(
        st.just(path_parameters), st.fixed_dictionaries({**{k: st.just(v) for k, v in path_parameters.items()}, **real})
    )


NEEDS_A_BODY = ("POST /api/prompts/{prompt_id}/render/", "PUT /api/providers/credentials/{id}/")


def _with_stored_data(world: World, case: Any) -> None:
    """Make a positive case's data-dependent values valid for the objects the fuzzing user has: the
    schema states the shape, not which columns, variables or variants exist. What the schema does say
    (types, patterns, lengths) is kept; negative cases are left alone."""
    label = case.operation.label
    if label in NEEDS_A_BODY and not isinstance(case.body, dict):  # no body is schema-valid; not for this data
        case.body, case.media_type = {}, "application/json"
    body = case.body if isinstance(case.body, dict) else None
    if label in world.uploads and body is not None:
        body["file"] = world.uploads[label]  # the coverage phase sends b"", generation random bytes
        body["workspace"] = world.ids["workspace_id"][0]
        if "columns" in body:
            body["columns"] = ""  # a JSON object of column types, as a string
        if "kind" in body:
            body["kind"] = "auto"
    elif label in ("POST /api/datasets/{dataset_id}/rows/", "PATCH /api/datasets/{dataset_id}/rows/{row_id}/"):
        if body is not None and "values" in body:
            body["values"] = {name: f"cell {index}" for index, name in enumerate(world.columns)}
    elif label in ("POST /api/prompts/{prompt_id}/render/", "GET /api/exports/prompts/{prompt_id}/snippet/"):
        values = dict.fromkeys(world.variables, "a value")
        target = case.query if label.startswith("GET") else body
        if target is None:
            return
        target["variables"] = json.dumps(values) if label.startswith("GET") else values
        if str(target.get("label") or "").strip():  # a blank label is no label
            target["label"] = "production"
        if "version" in target:
            target["version"] = 1
        if "content" in target:
            target["content"] = world.content
    elif label == "POST /api/prompts/{prompt_id}/versions/" and body is not None:
        body["content"] = world.content
    elif label == "PATCH /api/prompts/{prompt_id}/" and body is not None and isinstance(body.get("tags"), list):
        # normalized as the API does (case, whitespace runs), then the API's limits: 32 characters, 20 tags
        tags = {" ".join(tag.split()).lower(): None for tag in body["tags"] if isinstance(tag, str)}
        body["tags"] = [tag for tag in tags if tag and TAG_RE.match(tag)][:MAX_TAGS]
    elif label in ("POST /api/providers/credentials/", "PUT /api/providers/credentials/{id}/") and body is not None:
        # PUT: required unless the stored credential is openai_compatible. POST: the schema says so (anyOf),
        # but the coverage phase's smallest valid object leaves the anyOf out.
        provider = body.get("provider") if label.startswith("POST") else None
        if provider != "openai_compatible" and not str(body.get("api_key") or "").strip():
            body["api_key"] = "sk-fuzz-replacement-0123456789"
        if "base_url" in body:
            body["base_url"] = ""  # whether a host may be called depends on where it resolves (netpolicy)
    elif label == "PATCH /api/tests/{test_id}/" and body is not None and isinstance(body.get("control"), int):
        variants = body.get("variants")
        body["control"] %= len(variants) if isinstance(variants, list) and variants else world.variants


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any, world: World) -> None:
    excluded = [CHECKS[code] for code in KNOWN.get(case.operation.label, ())]
    # The fuzzing user's real token, unless the case itself is about a malformed Authorization header:
    # that one must reach the app (and be refused), not be replaced by a valid token.
    headers = {"Authorization": f"Bearer {world.token}"}
    if (
        case.meta is not None
        and case.meta.is_negative_at(ParameterLocation.HEADER)
        and "Authorization" in (case.headers or {})
    ):
        headers = {}
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _with_stored_data(world, case)
    case.call_and_validate(headers=headers, excluded_checks=excluded)
