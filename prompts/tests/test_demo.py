from __future__ import annotations

from typing import Any

import pytest

from accounts.tests.factories import UserFactory, WorkspaceFactory
from prompts import demo
from prompts.models import Asset, Prompt
from prompts.rendering import render

pytestmark = pytest.mark.django_db


def test_seed_makes_three_working_prompts_and_is_idempotent() -> None:
    workspace, user = WorkspaceFactory(), UserFactory()
    demo.seed(workspace=workspace, user=user)
    demo.seed(workspace=workspace, user=user)
    prompts = {p.slug: p for p in Prompt.objects.filter(workspace=workspace)}
    assert set(prompts) == {demo.RECEIPT_SLUG, demo.COPY_SLUG, demo.SUPPORT_SLUG}
    assert Asset.objects.filter(workspace=workspace).count() == 1

    receipt = prompts[demo.RECEIPT_SLUG].versions.get()
    image_part = receipt.content["messages"][1]["content"][1]
    asset = Asset.objects.get(pk=image_part["asset"])
    assert asset.kind == "image" and asset.thumbnail

    copy = prompts[demo.COPY_SLUG].versions.get()
    assert [v["name"] for v in copy.variables] == ["product", "audience", "tone", "count", "facts"]
    text = render(copy.content, {})["messages"][1]["content"][0]["text"]
    assert text.startswith("Write 3 short taglines for a reusable glass water bottle.")

    support = prompts[demo.SUPPORT_SLUG]
    assert list(support.versions.order_by("number").values_list("number", flat=True)) == [1, 2, 3]
    labels: dict[str, Any] = {label.name: label.version.number for label in support.labels.all()}
    assert labels == {"production": 2, "staging": 3}
