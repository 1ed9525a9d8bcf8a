from __future__ import annotations

from typing import Any

import factory

from accounts.tests.factories import WorkspaceFactory
from templates_app.models import Category, Template


def simple_content(text: str = "Describe {{ subject }} in the picture.", **extra: Any) -> dict[str, Any]:
    """A small valid document with an image variable and a text variable."""
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are precise."}]},
            {"role": "user", "content": [{"type": "image", "variable": "photo"}, {"type": "text", "text": text}]},
        ],
        "variables": [
            {"name": "photo", "type": "image", "description": "The picture."},
            {"name": "subject", "type": "text", "default": "the main object"},
        ],
        "model": {"temperature": 0.2},
        **extra,
    }


def category(slug: str = "vision") -> Category:
    return Category.objects.get(slug=slug)


class TemplateFactory(factory.django.DjangoModelFactory):
    """A workspace template (starters come from the data migration)."""

    class Meta:
        model = Template

    workspace = factory.SubFactory(WorkspaceFactory)
    category = factory.LazyFunction(lambda: Category.objects.get(slug="other"))
    name = factory.Sequence(lambda n: f"Team template {n}")
    slug = factory.Sequence(lambda n: f"team-template-{n}")
    description = "A template the team made."
    content = factory.LazyFunction(simple_content)
    tags = factory.LazyFunction(lambda: ["team"])
    is_starter = False
