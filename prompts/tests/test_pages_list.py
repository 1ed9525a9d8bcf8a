"""The prompt list page: filters, sort, pagination, archived tab, empty states, fragment vs page, queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prompts import services
from prompts.models import Prompt
from prompts.tests.factories import text_document

pytestmark = pytest.mark.django_db

LIST = reverse("prompts:list")
FRAGMENT = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "prompt-results"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make(team: Any, name: str, *, tags: list[str] | None = None, versions: int = 1, **extra: Any) -> Prompt:
    prompt = services.prompt_create(
        workspace=extra.pop("workspace", team.workspace), user=team.editor, name=name, tags=tags, **extra
    )
    for n in range(versions):
        services.version_create(prompt=prompt, user=team.editor, content=text_document(f"{name} text {n}"))
    return prompt


def test_list_shows_rows_with_version_labels_tags_and_author(team: Any) -> None:
    prompt = make(team, "Receipt to JSON", tags=["vision", "finance"], versions=3, description="Reads receipts")
    services.label_set(prompt=prompt, name="production", version=2, user=team.editor)
    services.label_set(prompt=prompt, name="staging", version=3, user=team.editor)
    make(team, "Theirs", workspace=team.other_workspace)

    response = browser(team.viewer).get(LIST)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert reverse("prompts:detail", args=[prompt.pk]) in html
    assert "Reads receipts" in html and "vision" in html and "finance" in html
    assert "v3" in html
    assert 'class="badge badge-production"' in html and "production · v2" in html
    assert "staging · v3" in html
    assert team.editor.name in html
    assert "Theirs" not in html


def test_search_filters_by_name_and_keeps_the_query_in_the_form(team: Any) -> None:
    make(team, "Invoice reader")
    make(team, "Chart helper")
    html = browser(team.viewer).get(LIST, {"q": "invoice"}).content.decode()
    assert "Invoice reader" in html and "Chart helper" not in html
    assert 'value="invoice"' in html
    assert 'hx-push-url="true"' in html and "delay:300ms" in html


def test_tag_and_label_filters(team: Any) -> None:
    tagged = make(team, "Tagged one", tags=["vision"])
    make(team, "Plain one")
    labelled = make(team, "Shipped one")
    services.label_set(prompt=labelled, name="production", version=1, user=team.editor)
    client = browser(team.viewer)

    html = client.get(LIST, {"tag": "vision"}).content.decode()
    assert tagged.name in html and "Plain one" not in html and "Shipped one" not in html

    html = client.get(LIST, {"label": "production"}).content.decode()
    assert "Shipped one" in html and tagged.name not in html and "Plain one" not in html


def test_sort_by_name_and_by_versions(team: Any) -> None:
    make(team, "Bravo", versions=1)
    make(team, "Alpha", versions=3)
    make(team, "Charlie", versions=2)
    client = browser(team.viewer)

    html = client.get(LIST, {"sort": "name"}).content.decode()
    assert html.index("Alpha") < html.index("Bravo") < html.index("Charlie")
    html = client.get(LIST, {"sort": "-versions"}).content.decode()
    assert html.index("Alpha") < html.index("Charlie") < html.index("Bravo")
    html = client.get(LIST, {"sort": "nonsense"}).content.decode()  # falls back to recently updated
    assert html.index("Charlie") < html.index("Bravo")


def test_pagination_splits_long_lists(team: Any) -> None:
    for i in range(30):
        Prompt.objects.create(workspace=team.workspace, name=f"Bulk {i:02d}", slug=f"bulk-{i:02d}")
    client = browser(team.viewer)
    first = client.get(LIST, {"sort": "name"}).content.decode()
    assert "Bulk 00" in first and "Bulk 24" in first and "Bulk 25" not in first
    assert "Page 1 of 2" in first
    second = client.get(LIST, {"sort": "name", "page": 2}).content.decode()
    assert "Bulk 25" in second and "Bulk 29" in second and "Bulk 00" not in second
    assert client.get(LIST, {"page": "999"}).status_code == 200


def test_archived_tab_shows_only_archived_prompts(team: Any) -> None:
    make(team, "Still active")
    old = make(team, "Old one")
    services.prompt_update(prompt=old, archived=True)
    client = browser(team.viewer)
    html = client.get(LIST).content.decode()
    assert "Still active" in html and "Old one" not in html
    html = client.get(LIST, {"archived": "1"}).content.decode()
    assert "Old one" in html and "Still active" not in html


def test_empty_workspace_explains_prompts_and_offers_new_prompt(team: Any) -> None:
    html = browser(team.editor).get(LIST).content.decode()
    assert "Write your first prompt" in html
    assert reverse("prompts:new") in html


def test_viewer_gets_no_new_prompt_button(team: Any) -> None:
    html = browser(team.viewer).get(LIST).content.decode()
    assert reverse("prompts:new") not in html


def test_no_match_offers_to_clear_filters(team: Any) -> None:
    make(team, "Something")
    html = browser(team.viewer).get(LIST, {"q": "zzz"}).content.decode()
    assert "No prompts match" in html and "Clear filters" in html


def test_fragment_request_gets_only_the_results_partial(team: Any) -> None:
    make(team, "Fragment me")
    client = browser(team.viewer)
    fragment = client.get(LIST, {"q": "frag"}, **FRAGMENT).content.decode()
    assert fragment.lstrip().startswith('<div id="prompt-results"')
    assert "<html" not in fragment and "Fragment me" in fragment
    # The same URL opened directly (or by boosted navigation) is the whole page.
    assert "<html" in client.get(LIST, {"q": "frag"}).content.decode()
    boosted = client.get(LIST, {"q": "frag"}, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true").content.decode()
    assert "<html" in boosted


def test_anonymous_visitor_is_sent_to_login(db: Any) -> None:
    response = Client().get(LIST)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize("fragment", [False, True])
def test_list_page_query_count_is_the_same_for_5_and_50_prompts(
    team: Any, django_assert_num_queries: Any, fragment: bool
) -> None:
    client = browser(team.viewer)
    headers = FRAGMENT if fragment else {}

    def fill(upto: int) -> None:
        for i in range(Prompt.objects.filter(workspace=team.workspace).count(), upto):
            prompt = make(team, f"Prompt {i:02d}", tags=["t"], versions=2)
            services.label_set(prompt=prompt, name="production", version=1, user=team.editor)

    fill(5)
    client.get(LIST, **headers)  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        response = client.get(LIST, {"sort": "-versions"}, **headers)
    assert response.content.decode().count("badge-production") >= 5
    fill(50)
    with django_assert_num_queries(len(five.captured_queries)):
        response = client.get(LIST, {"sort": "-versions"}, **headers)
    assert response.content.decode().count("badge-production") >= 25
