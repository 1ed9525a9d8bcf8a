"""Demo prompts for the demo workspace (studio.seeding runs ``seed`` at every ``make run``; idempotent).

Three prompts: a receipt reader with a receipt image drawn here with Pillow, a product copywriter
with typed variables, and a support reply with three versions and ``production``/``staging`` labels.
All use the echo provider, so they run without an API key.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from accounts.models import User, Workspace
from prompts.models import Prompt
from prompts.services import asset_create, label_set, prompt_create, version_create

ECHO = {"provider": "echo", "name": "echo", "temperature": 0.2, "max_tokens": 512}
RECEIPT_SLUG = "receipt-to-json"
COPY_SLUG = "product-copy"
SUPPORT_SLUG = "support-reply"

RECEIPT_LINES = [
    ("Espresso", "2.80"),
    ("Croissant", "3.20"),
    ("Orange juice", "4.50"),
    ("Granola bowl", "7.90"),
]


def receipt_png() -> bytes:
    """A small till receipt, drawn deterministically."""
    width, height = 360, 420
    image = Image.new("RGB", (width, height), (252, 251, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, width - 9, height - 9), outline=(200, 196, 186), width=2)
    draw.text((120, 24), "CAFE LUMEN", fill=(20, 20, 20))
    draw.text((98, 44), "12 Harbour Street, Leith", fill=(90, 90, 90))
    draw.text((30, 74), "2026-11-28   09:41   Till 2", fill=(90, 90, 90))
    draw.line((24, 96, width - 24, 96), fill=(160, 160, 160), width=1)
    y = 112
    for item, price in RECEIPT_LINES:
        draw.text((30, y), item, fill=(20, 20, 20))
        draw.text((width - 80, y), price, fill=(20, 20, 20))
        y += 28
    draw.line((24, y + 4, width - 24, y + 4), fill=(160, 160, 160), width=1)
    total = sum(float(price) for _, price in RECEIPT_LINES)
    draw.text((30, y + 18), "TOTAL  EUR", fill=(0, 0, 0))
    draw.text((width - 80, y + 18), f"{total:.2f}", fill=(0, 0, 0))
    draw.text((30, y + 46), "VAT 10% incl.    Card **** 4242", fill=(90, 90, 90))
    # a tiny bar chart of the items, so the image has some shape to describe
    base = height - 40
    for i, (_, price) in enumerate(RECEIPT_LINES):
        left = 60 + i * 60
        draw.rectangle((left, base - int(float(price) * 10), left + 36, base), fill=(64, 110, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _receipt(workspace: Workspace, user: User) -> None:
    asset, _ = asset_create(
        workspace=workspace, user=user, upload=SimpleUploadedFile("receipt.png", receipt_png(), "image/png")
    )
    content: dict[str, Any] = {
        "messages": [
            {
                "role": "system",
                "content": [
                    {
                        "type": "text",
                        "text": "You turn photos of receipts into JSON with merchant, date, items (name, price), "
                        "total and currency. Answer with JSON only.",
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Read this receipt."},
                    {"type": "image", "asset": str(asset.pk), "detail": "high"},
                ],
            },
        ],
        "model": {**ECHO, "response_format": "json"},
    }
    prompt_create(
        workspace=workspace,
        user=user,
        name="Receipt to JSON",
        slug=RECEIPT_SLUG,
        description="Extracts the line items and total from a receipt photo.",
        tags=["vision", "extraction"],
        content=content,
        message="First version",
    )


def _copy(workspace: Workspace, user: User) -> None:
    content = {
        "messages": [
            {"role": "system", "content": "You write product copy in a {{tone}} tone for {{audience}}."},
            {
                "role": "user",
                "content": "Write {{count}} short taglines for {{product}}. Key facts: {{facts}}",
            },
        ],
        "variables": [
            {"name": "product", "type": "text", "default": "a reusable glass water bottle"},
            {"name": "audience", "type": "text", "default": "commuters", "description": "Who reads the copy"},
            {"name": "tone", "type": "text", "default": "warm"},
            {"name": "count", "type": "number", "default": 3, "description": "How many taglines"},
            {"name": "facts", "type": "json", "default": {"volume_ml": 600, "dishwasher_safe": True}},
        ],
        "model": ECHO,
    }
    prompt_create(
        workspace=workspace,
        user=user,
        name="Product copy",
        slug=COPY_SLUG,
        description="Taglines from a few facts; try changing the variables.",
        tags=["marketing"],
        content=content,
        message="First version",
    )


SUPPORT_VERSIONS = [
    ("You are a support agent. Reply to: {{message}}", "First version"),
    (
        "You are a friendly support agent for {{company}}. Reply in two or three sentences to: {{message}}",
        "Shorter, friendlier replies",
    ),
    (
        "You are a friendly support agent for {{company}}. Reply in two or three sentences, "
        "and end with one concrete next step. Customer message: {{message}}",
        "Always give a next step",
    ),
]


def _support(workspace: Workspace, user: User) -> None:
    prompt = prompt_create(
        workspace=workspace,
        user=user,
        name="Support reply",
        slug=SUPPORT_SLUG,
        description="Drafts a reply to a customer message. v2 is in production, v3 on staging.",
        tags=["support"],
    )
    for text, message in SUPPORT_VERSIONS:
        version_create(
            prompt=prompt,
            user=user,
            content={
                "messages": [{"role": "system", "content": text}, {"role": "user", "content": "{{message}}"}],
                "variables": [
                    {"name": "company", "default": "Lumen"},
                    {"name": "message", "default": "My order arrived damaged."},
                ],
                "model": ECHO,
            },
            message=message,
        )
    label_set(prompt=prompt, name="production", version=2, user=user)
    label_set(prompt=prompt, name="staging", version=3, user=user)


def seed(*, workspace: Workspace, user: User) -> None:
    """Add the demo prompts that are missing (by slug); existing ones are left as they are."""
    existing = set(Prompt.objects.filter(workspace=workspace).values_list("slug", flat=True))
    if RECEIPT_SLUG not in existing:
        _receipt(workspace, user)
    if COPY_SLUG not in existing:
        _copy(workspace, user)
    if SUPPORT_SLUG not in existing:
        _support(workspace, user)
