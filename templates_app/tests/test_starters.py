from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from prompts.content import MEDIA_TYPES, validate_content
from templates_app.models import Category, Template
from templates_app.starters import STARTERS

pytestmark = pytest.mark.django_db

REQUIRED_USES = {
    "image-captioning",
    "receipt-to-json",
    "chart-question-answering",
    "ui-screenshot-review",
    "pdf-summary",
    "audio-transcript-summary",
    "compare-two-images",
    "visual-classification",
}


def test_the_data_migration_ships_at_least_eight_starters() -> None:
    starters = Template.objects.starters()
    assert starters.count() == len(STARTERS) >= 8
    assert set(starters.values_list("slug", flat=True)) >= REQUIRED_USES
    assert all(t.is_starter and t.workspace_id is None for t in starters)


@pytest.mark.parametrize("slug", [s["slug"] for s in STARTERS])
def test_every_starter_is_valid_normalised_content(slug: str) -> None:
    template = Template.objects.get(workspace__isnull=True, slug=slug)
    assert validate_content(template.content, workspace_id=None) == template.content
    assert template.description and template.category_id


@pytest.mark.parametrize("slug", [s["slug"] for s in STARTERS])
def test_every_starter_takes_media_through_a_variable_and_has_text_defaults(slug: str) -> None:
    template = Template.objects.get(workspace__isnull=True, slug=slug)
    media_parts = [part for message in template.messages for part in message["content"] if part["type"] in MEDIA_TYPES]
    assert media_parts and all("variable" in part for part in media_parts)
    text_variables = [v for v in template.variables if v["type"] in ("text", "number")]
    assert text_variables and all("default" in v for v in text_variables)
    assert all(v.get("description") for v in template.variables)


def test_starters_cover_images_audio_and_pdfs() -> None:
    kinds = {kind for template in Template.objects.starters() for kind in template.media_kinds()}
    assert kinds == {"image", "audio", "document"}


def test_load_starter_templates_is_idempotent() -> None:
    before = list(Template.objects.order_by("pk").values_list("pk", "slug", "content"))
    out = StringIO()
    call_command("load_starter_templates", stdout=out)
    assert "0 created, 0 updated" in out.getvalue()
    assert list(Template.objects.order_by("pk").values_list("pk", "slug", "content")) == before
    assert Category.objects.count() >= 5


def test_load_starter_templates_restores_a_changed_or_missing_starter() -> None:
    changed = Template.objects.get(workspace__isnull=True, slug="pdf-summary")
    shipped: dict[str, Any] = changed.content
    changed.content = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}
    changed.save()
    Template.objects.filter(workspace__isnull=True, slug="compare-two-images").delete()
    out = StringIO()
    call_command("load_starter_templates", stdout=out)
    assert "1 created, 1 updated" in out.getvalue()
    assert Template.objects.get(pk=changed.pk).content == shipped
    assert Template.objects.filter(workspace__isnull=True, slug="compare-two-images").exists()


def test_demo_seed_adds_one_team_template_and_is_idempotent(team: Any) -> None:
    from templates_app import demo

    demo.seed(workspace=team.workspace, user=team.owner)
    demo.seed(workspace=team.workspace, user=team.owner)
    own = Template.objects.filter(workspace=team.workspace)
    assert [t.slug for t in own] == [demo.DEMO_SLUG]
    assert own.get().media_kinds() == ["image"]
    assert Template.objects.starters().count() == len(STARTERS)
