"""The gallery (filter, search as you type, fragment vs page), a template's page and delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from templates_app import services
from templates_app.models import Template
from templates_app.starters import STARTERS
from templates_app.tests.factories import TemplateFactory

pytestmark = pytest.mark.django_db

GALLERY = reverse("templates_app:gallery")
HTMX = {"HTTP_HX_REQUEST": "true"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def starter(slug: str = "image-captioning") -> Template:
    return Template.objects.get(workspace__isnull=True, slug=slug)


def test_gallery_shows_every_starter_and_the_workspaces_templates(team: Any) -> None:
    own = TemplateFactory(workspace=team.workspace, name="Our checklist")
    other = TemplateFactory(workspace=team.other_workspace, name="Their secret")
    response = browser(team.viewer).get(GALLERY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'id="template-results"' in html
    for data in STARTERS:
        assert reverse("templates_app:detail", args=[starter(data["slug"]).pk]) in html
    assert own.name in html and other.name not in html


def test_gallery_cards_show_category_variables_and_media_kinds(team: Any) -> None:
    html = browser(team.viewer).get(GALLERY, {"search": "transcript"}).content.decode()
    assert "Audio transcript summary" in html
    assert "meeting_type" in html and "recording" in html
    assert "Takes audio" in html
    assert ">Audio <span" in html  # the category chip


def test_gallery_filters_by_category(team: Any) -> None:
    html = browser(team.viewer).get(GALLERY, {"category": "documents"}).content.decode()
    assert "PDF summary" in html and "Ask a PDF" in html
    assert "Image captioning" not in html
    assert 'class="chip is-active"' in html


def test_gallery_search_matches_tags_and_words(team: Any) -> None:
    html = browser(team.viewer).get(GALLERY, {"search": "json"}).content.decode()
    assert "Receipt or invoice to JSON" in html and "Visual classification" in html
    assert "PDF summary" not in html


def test_gallery_search_with_no_match_shows_the_empty_state(team: Any) -> None:
    html = browser(team.viewer).get(GALLERY, {"search": "zzzz-nothing"}).content.decode()
    assert "No templates match “zzzz-nothing”" in html
    assert "Clear filters" in html


def test_htmx_search_gets_only_the_results_fragment(team: Any) -> None:
    response = browser(team.viewer).get(GALLERY, {"search": "chart"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="template-results"' in html
    assert "Chart question answering" in html and "Image captioning" not in html


def test_the_fragment_url_opened_directly_or_boosted_renders_the_whole_page(team: Any) -> None:
    client = browser(team.viewer)
    assert "<html" in client.get(GALLERY, {"search": "chart"}).content.decode()
    boosted = client.get(GALLERY, {"search": "chart"}, HTTP_HX_BOOSTED="true", **HTMX).content.decode()
    assert "<html" in boosted
    restored = client.get(GALLERY, {"search": "chart"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in restored.content.decode()


def test_search_box_and_chips_drive_htmx_and_keep_the_filters_in_the_url(team: Any) -> None:
    html = browser(team.viewer).get(GALLERY, {"search": "pdf", "category": "documents"}).content.decode()
    assert 'hx-trigger="input changed delay:300ms' in html
    assert 'hx-push-url="true"' in html
    assert 'value="pdf"' in html
    assert 'name="category" value="documents" form="template-filter"' in html
    assert "?search=pdf&amp;category=vision" in html  # a chip keeps the search


def _gallery_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(GALLERY).status_code == 200
    return len(ctx)


def test_gallery_query_count_is_the_same_for_5_and_50_templates(team: Any, django_assert_num_queries: Any) -> None:
    client = browser(team.viewer)
    TemplateFactory.create_batch(5, workspace=team.workspace)
    baseline = _gallery_queries(client)
    TemplateFactory.create_batch(45, workspace=team.workspace)
    with django_assert_num_queries(baseline):
        response = client.get(GALLERY)
    assert response.content.decode().count('class="card template-card"') == len(STARTERS) + 50


def test_gallery_needs_login(db: Any) -> None:
    response = Client().get(GALLERY)
    assert response.status_code == 302 and "login" in response["Location"]


# --- a template's page ------------------------------------------------------------------------


def test_template_page_shows_messages_variables_and_the_use_form(team: Any) -> None:
    template = starter("compare-two-images")
    html = browser(team.editor).get(reverse("templates_app:detail", args=[template.pk])).content.decode()
    assert "Compare two images" in html
    assert "from the variable <code>image_a</code>" in html
    assert "layout, text, colours and missing or added elements" in html  # a default
    assert "Use template" in html and reverse("templates_app:use", args=[template.pk]) in html
    assert "Delete" not in html  # starters can't be deleted


def test_viewer_sees_the_template_but_no_use_button(team: Any) -> None:
    html = browser(team.viewer).get(reverse("templates_app:detail", args=[starter().pk])).content.decode()
    assert "Image captioning" in html
    assert "Use template</button>" not in html
    assert "needs editor or higher" in html


def test_another_workspaces_template_page_is_404(team: Any) -> None:
    template = TemplateFactory(workspace=team.other_workspace)
    client = browser(team.owner)
    assert client.get(reverse("templates_app:detail", args=[template.pk])).status_code == 404
    assert client.post(reverse("templates_app:use", args=[template.pk])).status_code == 404
    assert client.post(reverse("templates_app:delete", args=[template.pk])).status_code == 404
    assert Template.objects.filter(pk=template.pk).exists()


def test_admin_deletes_a_workspace_template_after_confirming(team: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    page = browser(team.admin).get(reverse("templates_app:detail", args=[template.pk])).content.decode()
    assert "data-confirm=" in page
    response = browser(team.admin).post(reverse("templates_app:delete", args=[template.pk]), follow=True)
    assert response.redirect_chain[-1][0] == GALLERY
    assert f"Deleted the template “{template.name}”." in response.content.decode()
    assert not Template.objects.filter(pk=template.pk).exists()


def test_editor_cannot_delete_and_nobody_deletes_a_starter(team: Any) -> None:
    template = TemplateFactory(workspace=team.workspace)
    assert browser(team.editor).post(reverse("templates_app:delete", args=[template.pk])).status_code == 403
    response = browser(team.owner).post(reverse("templates_app:delete", args=[starter().pk]))
    assert response.status_code == 403
    assert services.STARTER_READ_ONLY in response.content.decode()
    assert Template.objects.filter(pk=template.pk).exists()
    assert Template.objects.filter(pk=starter().pk).exists()


def test_viewer_cannot_use_a_template(team: Any) -> None:
    response = browser(team.viewer).post(reverse("templates_app:use", args=[starter().pk]), {"name": "X"})
    assert response.status_code == 403
