"""Use a template (a new prompt with version 1) and save a prompt version as a template."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from prompts import services as prompt_services
from prompts.content import UNKNOWN_ASSET
from prompts.models import Prompt, PromptVersion
from prompts.tests.factories import AssetFactory
from templates_app import services, views
from templates_app.models import Template
from templates_app.tests.factories import TemplateFactory, simple_content

pytestmark = pytest.mark.django_db

FROM_VERSION = reverse("api:template-from-version")


def instantiate_url(pk: int) -> str:
    return reverse("api:template-instantiate", args=[pk])


def starter(slug: str = "receipt-to-json") -> Template:
    return Template.objects.get(workspace__isnull=True, slug=slug)


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_prompt(team: Any, content: dict[str, Any] | None = None) -> Prompt:
    return prompt_services.prompt_create(
        workspace=team.workspace,
        user=team.editor,
        name="Shelf photo audit",
        description="Audits shelf photos.",
        tags=["retail"],
        content=content or simple_content("Count the {{ subject }} on the shelf."),
    )


# --- instantiate ------------------------------------------------------------------------------


def test_editor_instantiates_a_starter_into_a_prompt_with_version_1(team: Any, api: Any) -> None:
    template = starter()
    response = api(team.editor).post(instantiate_url(template.pk), {"workspace": team.workspace.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1 and body["workspace"] == team.workspace.pk
    assert body["name"] == "Receipt or invoice to JSON" and body["slug"] == "receipt-or-invoice-to-json"
    prompt = Prompt.objects.get(pk=body["id"])
    version = prompt.versions.get()
    assert version.number == 1
    assert version.content == template.content
    assert version.variables == template.variables
    assert version.model_settings == template.model_settings
    assert version.author == team.editor
    assert version.message == services.INSTANTIATED_MESSAGE.format(name=template.name)
    assert prompt.tags == template.tags and prompt.description == template.description


def test_instantiating_twice_gives_distinct_slugs_and_a_given_name_is_used(team: Any, api: Any) -> None:
    client = api(team.editor)
    url = instantiate_url(starter().pk)
    first = client.post(url, {"workspace": team.workspace.pk}, format="json").json()
    second = client.post(url, {"workspace": team.workspace.pk}, format="json").json()
    named = client.post(url, {"workspace": team.workspace.pk, "name": "Expense bot"}, format="json").json()
    assert first["slug"] != second["slug"]
    assert named["name"] == "Expense bot" and named["slug"] == "expense-bot"
    assert Prompt.objects.filter(workspace=team.workspace).count() == 3


def test_a_workspace_template_with_its_own_asset_is_instantiated_there_but_not_elsewhere(team: Any, api: Any) -> None:
    asset = AssetFactory(workspace=team.workspace)
    content = {"messages": [{"role": "user", "content": [{"type": "image", "asset": str(asset.pk)}]}]}
    template = services.template_create(workspace=team.workspace, user=team.editor, name="Logo check", content=content)
    client = api(team.owner)
    assert client.post(instantiate_url(template.pk), {"workspace": team.workspace.pk}, format="json").status_code == 201
    team.other_workspace.memberships.create(user=team.owner, role="editor")
    response = client.post(instantiate_url(template.pk), {"workspace": team.other_workspace.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == f"content: messages[0].content[0].asset: {UNKNOWN_ASSET}"
    assert not Prompt.objects.filter(workspace=team.other_workspace).exists()


def test_instantiate_into_a_workspace_you_are_not_in_is_404(team: Any, api: Any) -> None:
    response = api(team.editor).post(
        instantiate_url(starter().pk), {"workspace": team.other_workspace.pk}, format="json"
    )
    assert response.status_code == 404
    assert not Prompt.objects.exists()


# --- from version -----------------------------------------------------------------------------


def test_editor_saves_a_prompt_version_as_a_template(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    prompt_services.version_create(prompt=prompt, user=team.editor, content=simple_content("v2 {{ subject }}"))
    payload = {"prompt": prompt.pk, "version": 1, "name": "Shelf audit", "category": "vision"}
    response = api(team.editor).post(FROM_VERSION, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workspace"] == team.workspace.pk and body["is_starter"] is False
    assert body["category"]["slug"] == "vision"
    assert body["description"] == "Audits shelf photos." and body["tags"] == ["retail"]
    template = Template.objects.get(pk=body["id"])
    assert template.content == prompt.versions.get(number=1).content
    assert template.author == team.editor


def test_save_as_template_keeps_the_workspaces_assets(team: Any, api: Any) -> None:
    asset = AssetFactory(workspace=team.workspace)
    content = {"messages": [{"role": "user", "content": [{"type": "image", "asset": str(asset.pk)}]}]}
    prompt = make_prompt(team, content)
    payload = {"prompt": prompt.pk, "version": 1, "name": "With logo"}
    response = api(team.editor).post(FROM_VERSION, payload, format="json")
    assert response.status_code == 201
    assert Template.objects.get(pk=response.json()["id"]).content["messages"][0]["content"][0]["asset"] == str(asset.pk)


def test_a_template_made_from_a_version_round_trips_into_an_equal_prompt(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    client = api(team.editor)
    template_id = client.post(FROM_VERSION, {"prompt": prompt.pk, "version": 1, "name": "T"}, format="json").json()[
        "id"
    ]
    new_id = client.post(instantiate_url(template_id), {"workspace": team.workspace.pk}, format="json").json()["id"]
    assert PromptVersion.objects.get(prompt_id=new_id).content_hash == prompt.versions.get().content_hash


def test_from_version_with_a_missing_version_is_404_and_bad_input_400(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    client = api(team.editor)
    response = client.post(FROM_VERSION, {"prompt": prompt.pk, "version": 7, "name": "T"}, format="json")
    assert response.status_code == 404 and "no version 7" in response.json()["detail"]
    response = client.post(
        FROM_VERSION, {"prompt": prompt.pk, "version": 1, "name": "T", "category": "x"}, format="json"
    )
    assert response.status_code == 404 and response.json()["detail"].startswith("category:")
    response = client.post(FROM_VERSION, {"prompt": prompt.pk, "name": "T"}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("version:")
    assert not Template.objects.filter(workspace=team.workspace).exists()


# --- outsiders and viewers on every endpoint ---------------------------------------------------


def _endpoints(team: Any) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, url, body) for every template endpoint, aimed at the team's workspace objects."""
    template = TemplateFactory(workspace=team.workspace)
    prompt = make_prompt(team)
    list_url = reverse("api:template-list")
    detail = reverse("api:template-detail", args=[template.pk])
    return [
        ("get", f"{list_url}?workspace={team.workspace.pk}", None),
        ("post", list_url, {"workspace": team.workspace.pk, "name": "X", "content": simple_content()}),
        ("get", detail, None),
        ("patch", detail, {"name": "Changed"}),
        ("delete", detail, None),
        ("post", instantiate_url(template.pk), {"workspace": team.workspace.pk}),
        ("post", FROM_VERSION, {"prompt": prompt.pk, "version": 1, "name": "X"}),
        ("get", f"{reverse('api:template-categories')}?workspace={team.workspace.pk}", None),
    ]


def test_an_outsider_gets_404_on_every_template_endpoint(team: Any, api: Any) -> None:
    client = api(team.outsider)
    before = (Template.objects.count(), Prompt.objects.count())
    for method, url, body in _endpoints(team):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    assert (Template.objects.count(), Prompt.objects.count()) == (before[0] + 1, before[1] + 1)
    assert not Template.objects.filter(name="Changed").exists()


def test_a_viewer_gets_403_on_every_write(team: Any, api: Any) -> None:
    client = api(team.viewer)
    endpoints = _endpoints(team)
    templates, prompts = Template.objects.count(), Prompt.objects.count()
    writes = [(m, u, b) for m, u, b in endpoints if m != "get"]
    assert len(writes) == 5
    for method, url, body in writes:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
        assert "viewer" in response.json()["detail"]
    for method, url, _body in endpoints:
        if method == "get":
            assert client.get(url).status_code == 200, url
    assert (Template.objects.count(), Prompt.objects.count()) == (templates, prompts)
    assert not Template.objects.filter(name="Changed").exists()


# --- pages --------------------------------------------------------------------------------------


def test_use_template_page_makes_a_prompt_in_the_current_workspace(team: Any) -> None:
    template = starter("chart-question-answering")
    response = browser(team.editor).post(reverse("templates_app:use", args=[template.pk]), {"name": "Sales chart Q&A"})
    prompt = Prompt.objects.get(workspace=team.workspace, name="Sales chart Q&A")
    assert response.status_code == 302
    expected = views._prompt_url(prompt) or reverse("templates_app:detail", args=[template.pk])
    assert response["Location"] == expected
    assert prompt.versions.get().content == template.content


def test_use_template_page_shows_a_toast(team: Any) -> None:
    template = starter("chart-question-answering")
    response = browser(team.editor).post(reverse("templates_app:use", args=[template.pk]), follow=True)
    assert views.PROMPT_CREATED.format(name=template.name, template=template.name) in response.content.decode()


def test_use_template_page_shows_the_error_and_saves_nothing(team: Any) -> None:
    other_asset = AssetFactory(workspace=team.other_workspace)
    content = {"messages": [{"role": "user", "content": [{"type": "image", "asset": str(other_asset.pk)}]}]}
    template = Template.objects.create(
        workspace=team.other_workspace, category=starter().category, name="Foreign", slug="foreign", content=content
    )
    team.other_workspace.memberships.create(user=team.editor, role="viewer")
    response = browser(team.editor).post(reverse("templates_app:use", args=[template.pk]), {"name": "Mine"})
    assert response.status_code == 400
    assert f"messages[0].content[0].asset: {UNKNOWN_ASSET}" in response.content.decode()
    assert not Prompt.objects.filter(name="Mine").exists()


def test_save_as_template_page(team: Any) -> None:
    prompt = make_prompt(team)
    version = prompt.versions.get()
    url = reverse("templates_app:from-version", args=[version.pk])
    client = browser(team.editor)
    page = client.get(url)
    assert page.status_code == 200 and 'value="Shelf photo audit"' in page.content.decode()
    response = client.post(url, {"name": "Shelf audit", "category": "vision", "description": "d", "tags": "retail, qa"})
    template = Template.objects.get(workspace=team.workspace, name="Shelf audit")
    assert response.status_code == 302 and response["Location"] == reverse("templates_app:detail", args=[template.pk])
    assert template.tags == ["retail", "qa"] and template.content == version.content


def test_save_as_template_page_keeps_what_was_typed_on_an_error(team: Any) -> None:
    version = make_prompt(team).versions.get()
    url = reverse("templates_app:from-version", args=[version.pk])
    response = browser(team.editor).post(url, {"name": "Kept", "category": "vision", "tags": "bad/tag!"})
    assert response.status_code == 400
    html = response.content.decode()
    assert escape(prompt_services.TAGS_INVALID) in html and 'value="Kept"' in html
    assert not Template.objects.filter(name="Kept").exists()


def test_save_as_template_page_is_404_for_outsiders_and_403_for_viewers(team: Any) -> None:
    version = make_prompt(team).versions.get()
    url = reverse("templates_app:from-version", args=[version.pk])
    assert browser(team.outsider).get(url).status_code == 404
    assert browser(team.viewer).get(url).status_code == 403
    assert browser(team.viewer).post(url, {"name": "X", "category": "vision"}).status_code == 403
    assert not Template.objects.filter(workspace=team.workspace).exists()
