from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import factory
from PIL import Image

from accounts.tests.factories import UserFactory, WorkspaceFactory
from prompts.models import Asset, AssetKind, Prompt


def png_bytes(size: tuple[int, int] = (8, 6), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def text_document(text: str = "Hello {{ name }}", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}], **extra}


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Prompt {n}")
    slug = factory.Sequence(lambda n: f"prompt-{n}")
    author = factory.SubFactory(UserFactory)


class AssetFactory(factory.django.DjangoModelFactory):
    """An Asset row (with no file behind it) for content checks; uploads go through asset_create."""

    class Meta:
        model = Asset

    workspace = factory.SubFactory(WorkspaceFactory)
    kind = AssetKind.IMAGE
    mime_type = "image/png"
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(uuid.uuid4().bytes).hexdigest())
    size = 100
    file = factory.LazyAttribute(lambda o: f"assets/{o.workspace.pk}/{o.sha256}.png")
    original_name = "picture.png"
