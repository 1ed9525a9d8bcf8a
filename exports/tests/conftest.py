"""Fixtures for export/import tests: a workspace with prompts (image, audio and PDF parts), labels and
their history, a template, a dataset with media cells, and runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile

from abtests.models import Dataset
from abtests.services import dataset_create
from exports.tests.media import pdf_bytes, png_bytes, wav_bytes
from prompts.models import Asset, Prompt
from prompts.services import asset_create, label_set, prompt_create, version_create
from providers.fake_server import FakeProvider
from providers.models import Run
from templates_app.models import Template
from templates_app.services import template_create


@dataclass
class Filled:
    workspace: Any
    user: Any
    prompt: Prompt
    text_prompt: Prompt
    image: Asset
    audio: Asset
    pdf: Asset
    template: Template
    dataset: Dataset


def content_with_media(image: Asset, audio: Asset, pdf: Asset) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are {{persona}}."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe the {{subject}} in the picture, the clip and the PDF."},
                    {"type": "image", "asset": str(image.pk), "detail": "low"},
                    {"type": "audio", "asset": str(audio.pk)},
                    {"type": "document", "asset": str(pdf.pk)},
                ],
            },
        ],
        "variables": [
            {"name": "persona", "type": "text", "default": "a careful analyst"},
            {"name": "subject", "type": "text", "default": "receipt"},
        ],
        "model": {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 200},
    }


def fill_workspace(workspace: Any, user: Any) -> Filled:
    image, _ = asset_create(workspace=workspace, user=user, upload=ContentFile(png_bytes(), name="chart.png"))
    audio, _ = asset_create(workspace=workspace, user=user, upload=ContentFile(wav_bytes(), name="clip.wav"))
    pdf, _ = asset_create(workspace=workspace, user=user, upload=ContentFile(pdf_bytes(), name="invoice.pdf"))
    content = content_with_media(image, audio, pdf)
    prompt = prompt_create(
        workspace=workspace,
        user=user,
        name="Media describer",
        tags=["vision", "audio"],
        content=content,
        message="First version",
    )
    second = {**content, "model": {**content["model"], "temperature": 0.5}}
    v2, _ = version_create(prompt=prompt, user=user, content=second, message="Warmer")
    label_set(prompt=prompt, name="staging", version=1, user=user)
    label_set(prompt=prompt, name="production", version=1, user=user)
    label_set(prompt=prompt, name="production", version=v2, user=user)
    text_prompt = prompt_create(
        workspace=workspace,
        user=user,
        name="Greeter",
        content={
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello to {{name}}."}]}],
            "variables": [{"name": "name", "type": "text", "default": "Ada"}],
            "model": {"provider": "anthropic", "name": "claude-haiku-4-5", "max_tokens": 100},
        },
    )
    template = template_create(
        workspace=workspace,
        user=user,
        name="Chart reader",
        content={
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Read the chart."}, {"type": "image", "asset": str(image.pk)}],
                }
            ],
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
        },
        category="vision",
        description="Reads a bar chart.",
        tags=["charts"],
    )
    dataset = dataset_create(
        workspace=workspace,
        user=user,
        name="Receipts",
        description="Two rows with pictures.",
        columns=[
            {"name": "subject", "type": "text"},
            {"name": "photo", "type": "image"},
            {"name": "amount", "type": "number"},
        ],
        rows=[
            {"subject": "receipt", "photo": {"asset": str(image.pk)}, "amount": 12.5},
            {"subject": "ticket", "photo": {"url": "https://example.com/t.png"}, "amount": None},
        ],
    )
    version = prompt.versions.get(number=2)
    run = Run.objects.create(
        workspace=workspace,
        user=user,
        prompt=prompt,
        prompt_version=version,
        provider="openai",
        model="gpt-4o-mini",
        params={"temperature": 0.5},
        input={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image", "asset": str(image.pk), "detail": "low"},
                    ],
                }
            ]
        },
        variables={"subject": "receipt"},
        output="A chart.",
        finish_reason="stop",
        input_tokens=90,
        output_tokens=3,
        cost=Decimal("0.00001530"),
        latency_ms=120,
        ttft_ms=40,
        status="ok",
        source="playground",
    )
    Run.objects.create(
        workspace=workspace,
        user=user,
        prompt=text_prompt,
        prompt_version=text_prompt.versions.get(),
        provider="anthropic",
        model="claude-haiku-4-5",
        status="error",
        error_kind="rate_limit",
        error_message="Slow down.",
        retry_after=1.5,
        source="api",
    )
    add_finished_abtest(workspace, user, prompt, dataset, run)
    return Filled(
        workspace=workspace,
        user=user,
        prompt=prompt,
        text_prompt=text_prompt,
        image=image,
        audio=audio,
        pdf=pdf,
        template=template,
        dataset=dataset,
    )


def add_finished_abtest(workspace: Any, user: Any, prompt: Prompt, dataset: Dataset, run: Run) -> Any:
    """A completed A/B test: two variants over the dataset's snapshot, four trials, one linked to a run."""
    from abtests.evaluators import validate_evaluators
    from abtests.models import ABTest, Trial, Variant
    from abtests.services import dataset_snapshot_create

    snapshot = dataset_snapshot_create(dataset=dataset, user=user)
    test = ABTest.objects.create(
        workspace=workspace,
        name="Warm vs cool",
        dataset=dataset,
        snapshot=snapshot,
        status="completed",
        evaluators=validate_evaluators([{"type": "contains", "value": "{{ subject }}"}]),
        total_cells=4,
        finished_cells=4,
        cost_spent=Decimal("0.0002"),
        created_by=user,
    )
    cool = Variant.objects.create(
        test=test,
        name="cool",
        prompt=prompt,
        prompt_version=prompt.versions.get(number=1),
        provider="openai",
        model="gpt-4o-mini",
        order=0,
    )
    warm = Variant.objects.create(
        test=test,
        name="warm",
        prompt=prompt,
        prompt_version=prompt.versions.get(number=2),
        provider="openai",
        model="gpt-4o-mini",
        params={"temperature": 0.9},
        order=1,
    )
    ABTest.objects.filter(pk=test.pk).update(control=cool)
    for variant, outputs in ((cool, ["a receipt", "nothing"]), (warm, ["a receipt", "a ticket"])):
        for index, output in enumerate(outputs):
            passed = ("receipt", "ticket")[index] in output
            Trial.objects.create(
                test=test,
                variant=variant,
                row_index=index,
                status="ok",
                output=output,
                input_tokens=90,
                output_tokens=2,
                cost=Decimal("0.00005"),
                latency_ms=100 + index,
                score=1.0 if passed else 0.0,
                passed=passed,
                attempts=1,
                run=run if (variant == warm and index == 0) else None,
                evaluation={"checks": [{"type": "contains", "passed": passed}]},
            )
    return test


@pytest.fixture
def filled(team: Any) -> Filled:
    return fill_workspace(team.workspace, team.editor)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """The fake OpenAI/Anthropic/Mistral server (providers.fake_server), a real HTTP server."""
    with FakeProvider() as fake:
        yield fake
