"""Test data helpers: real media bytes as assets, rendered prompts, and an independent cost formula."""

from __future__ import annotations

import hashlib
import io
import wave
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image

from prompts.models import Asset
from providers.models import ModelInfo, Run

MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-6",
    "mistral": "mistral-small-latest",
    "openai_compatible": "local-llama",
}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def make_asset(workspace: Any, kind: str) -> Asset:
    data, mime, name = {
        "image": (png_bytes(), "image/png", "dot.png"),
        "audio": (wav_bytes(), "audio/wav", "beep.wav"),
        "document": (PDF_BYTES, "application/pdf", "page.pdf"),
    }[kind]
    digest = hashlib.sha256(data).hexdigest()
    return Asset.objects.create(
        workspace=workspace,
        kind=kind,
        mime_type=mime,
        sha256=digest,
        size=len(data),
        file=ContentFile(data, name=f"{digest}.{name.rsplit('.', 1)[1]}"),
        original_name=name,
    )


def rendered(
    text: str = "Describe the weather in Paris", *parts: dict[str, Any], system: str = "Be brief."
) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": system}]},
            {"role": "user", "content": [{"type": "text", "text": text}, *parts]},
        ],
        "model": {},
    }


def expected_cost(run: Run) -> Decimal:
    """Cost from the Run's tokens and the catalog row, written out independently of providers.catalog."""
    model = (
        ModelInfo.objects.for_workspace(run.workspace_id)
        .filter(provider=run.provider, model_id=run.model)
        .order_by("-workspace_id")
        .first()
    )
    assert model is not None
    m = Decimal(1_000_000)
    cached_price = model.price_cached_input if model.price_cached_input is not None else model.price_input
    if run.provider == "anthropic":
        total = (
            (run.input_tokens - run.cached_tokens - run.cache_write_tokens) * model.price_input
            + run.cache_write_tokens * model.price_cache_write
            + run.cached_tokens * cached_price
            + run.output_tokens * model.price_output
        )
    elif run.provider == "mistral":
        total = run.input_tokens * model.price_input + run.output_tokens * model.price_output
    elif run.provider == "echo":
        total = Decimal(0)
    else:
        total = (
            (run.input_tokens - run.cached_tokens) * model.price_input
            + run.cached_tokens * cached_price
            + run.output_tokens * model.price_output
        )
    return (total / m).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)
