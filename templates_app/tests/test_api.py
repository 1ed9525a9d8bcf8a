"""/api/templates/: list, create, read, change, delete, categories; access matrix and query counts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prompts.content import UNKNOWN_ASSET, UNKNOWN_ROLE
from prompts.tests.factories import AssetFactory
from templates_app import services
from templates_app.models import Template
from templates_app.starters import STARTERS
from templates_app.tests.factories import TemplateFactory, simple_content

pytestmark = pytest.mark.django_db

LIST = reverse("api:template-list")
CATEGORIES = reverse("api:template-categories")
N_STARTERS = len(STARTERS)


def detail_url(pk: int) -> str:
    return reverse("api:template-detail", args=[pk])


def starter(slug: str = "image-captioning") -> Template:
    return Template.objects.get(workspace__isnull=True, slug=slug)


def ids(response: Any) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# --- list -------------------------------------------------------------------------------------


def test_list_shows_starters_and_own_templates_but_not_another_workspaces(team: Any, api: Any) -> None:
    own = TemplateFactory(workspace=team.workspace)
    other = TemplateFactory(workspace=team.other_workspace)
    response = api(team.viewer).get(LIST)
    assert response.status_code == 200
    assert response.json()["count"] == N_STARTERS + 1
    assert own.pk in ids(response) and other.pk not in ids(response)
    assert starter().pk in ids(response)


def test_list_puts_workspace_templates_first_and_describes_each(team: Any, api: Any) -> None:
    own = TemplateFactory(workspace=team.workspace, name="Zebra report")
    rows = api(team.viewer).get(LIST).json()["results"]
    assert rows[0]["id"] == own.pk
    assert rows[0]["workspace"] == team.workspace.pk and rows[0]["is_starter"] is False
    caption = next(r for r in rows if r["slug"] == "image-captioning")
    assert caption["workspace"] is None and caption["is_starter"] is True
    assert caption["category"]["slug"] == "vision"
    assert caption["media_kinds"] == ["image"]
    assert [v["name"] for v in caption["variables"]] == ["photo", "audience", "style", "max_words"]
    assert caption["content"]["messages"][0]["role"] == "system"


def test_list_filters_by_workspace(team: Any, api: Any) -> None:
    own = TemplateFactory(workspace=team.workspace)
    second = TemplateFactory(workspace=team.other_workspace)
    team.other_workspace.memberships.create(user=team.viewer, role="viewer")
    client = api(team.viewer)
    assert second.pk in ids(client.get(LIST))
    only_first = ids(client.get(LIST, {"workspace": team.workspace.pk}))
    assert own.pk in only_first and second.pk not in only_first


def test_list_filters_by_category(team: Any, api: Any) -> None:
    response = api(team.viewer).get(LIST, {"category": "documents"})
    assert {r["slug"] for r in response.json()["results"]} == {"pdf-summary", "pdf-question-answering"}


@pytest.mark.parametrize(
    ("search", "expected"),
    [("receipt", "receipt-to-json"), ("OCR invoice", "receipt-to-json"), ("transcript", "audio-transcript-summary")],
)
def test_list_searches_name_description_and_tags(team: Any, api: Any, search: str, expected: str) -> None:
    rows = api(team.viewer).get(LIST, {"search": search}).json()["results"]
    assert expected in {r["slug"] for r in rows}
    assert len(rows) < N_STARTERS


def test_list_search_that_matches_nothing_is_empty(team: Any, api: Any) -> None:
    response = api(team.viewer).get(LIST, {"search": "zzzz-no-such-thing"})
    assert response.status_code == 200 and response.json()["count"] == 0


def test_anonymous_cannot_list(api: Any, db: Any) -> None:
    assert api(None).get(LIST).status_code == 401


def _list_queries(client: Any, params: dict[str, Any]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST, params).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("params", [{}, {"search": "template"}], ids=["all", "search"])
def test_list_query_count_is_the_same_for_5_and_50_templates(
    team: Any, api: Any, django_assert_num_queries: Any, params: dict[str, Any]
) -> None:
    TemplateFactory.create_batch(5, workspace=team.workspace)
    baseline = _list_queries(api(team.viewer), {**params, "workspace": team.workspace.pk})
    TemplateFactory.create_batch(45, workspace=team.workspace)
    client = api(team.viewer)
    with django_assert_num_queries(baseline):
        response = client.get(LIST, {**params, "workspace": team.workspace.pk, "page_size": 100})
    assert len(response.json()["results"]) >= 50


# --- create -----------------------------------------------------------------------------------


def test_editor_creates_a_workspace_template(team: Any, api: Any) -> None:
    payload = {
        "workspace": team.workspace.pk,
        "name": "Product photo QA",
        "category": "vision",
        "description": "Checks product photos.",
        "content": simple_content(),
        "tags": ["Photos", "qa", "photos"],
    }
    response = api(team.editor).post(LIST, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "product-photo-qa"
    assert body["workspace"] == team.workspace.pk and body["is_starter"] is False
    assert body["author"] == team.editor.email
    assert body["tags"] == ["photos", "qa"]
    template = Template.objects.get(pk=body["id"])
    assert template.content["variables"][1] == {"name": "subject", "type": "text", "default": "the main object"}


def test_create_detects_undeclared_text_variables(team: Any, api: Any) -> None:
    content = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi {{ who }}"}]}]}
    payload = {"workspace": team.workspace.pk, "name": "Hi", "content": content}
    body = api(team.editor).post(LIST, payload, format="json").json()
    assert body["variables"] == [{"name": "who", "type": "text"}]
    assert body["category"]["slug"] == "other"


def test_create_with_a_taken_name_numbers_the_slug_but_a_taken_explicit_slug_is_refused(team: Any, api: Any) -> None:
    client = api(team.editor)
    payload = {"workspace": team.workspace.pk, "name": "Same", "content": simple_content()}
    assert client.post(LIST, payload, format="json").json()["slug"] == "same"
    assert client.post(LIST, payload, format="json").json()["slug"] == "same-2"
    response = client.post(LIST, {**payload, "slug": "same"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "slug: " + services.SLUG_TAKEN.format(slug="same")


def test_a_starter_slug_can_be_reused_in_a_workspace(team: Any, api: Any) -> None:
    payload = {"workspace": team.workspace.pk, "name": "Mine", "slug": "pdf-summary", "content": simple_content()}
    response = api(team.editor).post(LIST, payload, format="json")
    assert response.status_code == 201 and response.json()["slug"] == "pdf-summary"


BAD_CONTENT = [
    (
        {"messages": [{"role": "robot", "content": "hi"}]},
        f"content: messages[0].role: {UNKNOWN_ROLE}",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "video", "url": "https://x.test/a.mp4"}]}]},
        "content: messages[0].content[0].type: unknown part type (use text, image, audio or document)",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "x"}, {"type": "image", "asset": str(uuid.uuid4())}],
                }
            ]
        },
        f"content: messages[0].content[1].asset: {UNKNOWN_ASSET}",
    ),
    (
        {"messages": [{"role": "user", "content": "x"}], "variables": [{"name": "1bad", "type": "text"}]},
        "content: variables[0].name: must start with a letter or _ and contain only letters, digits and _ (at most 64)",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_CONTENT, ids=["role", "part-type", "asset", "variable-name"])
def test_malformed_content_is_refused_naming_the_path_and_nothing_is_saved(
    team: Any, api: Any, content: dict[str, Any], message: str
) -> None:
    before = Template.objects.count()
    payload = {"workspace": team.workspace.pk, "name": "Broken", "content": content}
    response = api(team.editor).post(LIST, payload, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert Template.objects.count() == before


def test_an_asset_of_another_workspace_is_an_unknown_asset(team: Any, api: Any) -> None:
    foreign = AssetFactory(workspace=team.other_workspace)
    own = AssetFactory(workspace=team.workspace)
    part = {"type": "image", "asset": str(foreign.pk)}
    content = {"messages": [{"role": "user", "content": [part]}]}
    client = api(team.editor)
    response = client.post(LIST, {"workspace": team.workspace.pk, "name": "X", "content": content}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == f"content: messages[0].content[0].asset: {UNKNOWN_ASSET}"
    part["asset"] = str(own.pk)
    response = client.post(LIST, {"workspace": team.workspace.pk, "name": "X", "content": content}, format="json")
    assert response.status_code == 201


def test_unknown_category_and_missing_name_are_refused(team: Any, api: Any) -> None:
    client = api(team.editor)
    base = {"workspace": team.workspace.pk, "name": "X", "content": simple_content()}
    response = client.post(LIST, {**base, "category": "nope"}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "category: " + services.UNKNOWN_CATEGORY.format(category="nope")
    response = client.post(LIST, {**base, "name": "   "}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("name:")
    assert not Template.objects.filter(workspace=team.workspace).exists()


# --- read, change, delete ---------------------------------------------------------------------


def test_anyone_signed_in_reads_a_starter(team: Any, api: Any) -> None:
    response = api(team.outsider).get(detail_url(starter().pk))
    assert response.status_code == 200 and response.json()["slug"] == "image-captioning"


def test_viewer_reads_a_workspace_template(team: Any, api: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    response = api(team.viewer).get(detail_url(template.pk))
    assert response.status_code == 200 and response.json()["name"] == template.name


def test_editor_changes_a_template(team: Any, api: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    new_content = simple_content("Count the {{ thing }}.")
    response = api(team.editor).patch(
        detail_url(template.pk), {"name": "Renamed", "category": "vision", "content": new_content}, format="json"
    )
    assert response.status_code == 200, response.json()
    template.refresh_from_db()
    assert template.name == "Renamed" and template.category.slug == "vision"
    assert "thing" in [v["name"] for v in template.variables]


def test_a_bad_change_names_the_path_and_changes_nothing(team: Any, api: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    before = template.content
    bad = {"messages": [{"role": "user", "content": [{"type": "image", "variable": "nope"}]}]}
    response = api(team.editor).patch(detail_url(template.pk), {"name": "New", "content": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("content: messages[0].content[0].variable: undeclared variable")
    template.refresh_from_db()
    assert template.content == before and template.name != "New"


@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_starters_are_read_only_for_everyone(team: Any, api: Any, role: str) -> None:
    target = starter()
    client = api(team.user(role))
    for response in (
        client.patch(detail_url(target.pk), {"name": "Mine now"}, format="json"),
        client.delete(detail_url(target.pk)),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == services.STARTER_READ_ONLY
    assert Template.objects.get(pk=target.pk).name == "Image captioning"


def test_editor_cannot_delete_but_admin_can(team: Any, api: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    assert api(team.editor).delete(detail_url(template.pk)).status_code == 403
    assert api(team.admin).delete(detail_url(template.pk)).status_code == 204
    assert not Template.objects.filter(pk=template.pk).exists()


def test_a_missing_template_is_404(team: Any, api: Any) -> None:
    assert api(team.owner).get(detail_url(999999)).status_code == 404


# --- categories -------------------------------------------------------------------------------


def test_categories_list_counts_visible_templates(team: Any, api: Any) -> None:
    TemplateFactory(workspace=team.workspace, category=starter().category)
    TemplateFactory(workspace=team.other_workspace, category=starter().category)
    rows = api(team.viewer).get(CATEGORIES).json()["results"]
    by_slug = {r["slug"]: r for r in rows}
    vision_starters = Template.objects.starters().filter(category__slug="vision").count()
    assert by_slug["vision"]["template_count"] == vision_starters + 1
    assert [r["order"] for r in rows] == sorted(r["order"] for r in rows)
    assert {"name", "description", "id"} <= set(by_slug["vision"])


def test_categories_for_another_workspace_is_404(team: Any, api: Any) -> None:
    assert api(team.outsider).get(CATEGORIES, {"workspace": team.workspace.pk}).status_code == 404
