"""Access matrix: outsiders get 404 for another workspace's objects; viewers get 403 on every write."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from prompts.models import Asset, Label, LabelMove, Prompt, PromptVersion
from prompts.services import asset_create, label_set, prompt_create
from prompts.tests import media

pytestmark = pytest.mark.django_db

CONTENT = {
    "messages": [{"role": "user", "content": "Hello {{name}}"}],
    "variables": [{"name": "name", "default": "you"}],
}


@pytest.fixture
def world(team: Any) -> dict[str, Any]:
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="Secret", content=CONTENT)
    label_set(prompt=prompt, name="production", version=1, user=team.editor)
    asset, _ = asset_create(
        workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("a.png", media.image_bytes())
    )
    return {"prompt": prompt.pk, "asset": str(asset.pk), "workspace": team.workspace.pk, "slug": prompt.slug}


def reads(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    p = w["prompt"]
    return [
        ("get", reverse("api:prompt-list") + f"?workspace={w['workspace']}", {}),
        ("get", reverse("api:prompt-detail", args=[p]), {}),
        ("get", reverse("api:version-list", args=[p]), {}),
        ("get", reverse("api:version-detail", args=[p, 1]), {}),
        ("get", reverse("api:prompt-diff", args=[p]) + "?from=1&to=1", {}),
        ("get", reverse("api:label-list", args=[p]), {}),
        ("get", reverse("api:prompt-resolve") + f"?workspace={w['workspace']}&name={w['slug']}&label=production", {}),
        ("post", reverse("api:prompt-render", args=[p]), {"variables": {}}),
        ("get", reverse("api:asset-list") + f"?workspace={w['workspace']}", {}),
        ("get", reverse("api:asset-detail", args=[w["asset"]]), {}),
        ("get", reverse("api:asset-content", args=[w["asset"]]), {}),
        ("get", reverse("api:asset-content", args=[w["asset"]]) + "?thumbnail=1", {}),
    ]


def writes(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    p = w["prompt"]
    return [
        ("post", reverse("api:prompt-list"), {"workspace": w["workspace"], "name": "New"}),
        ("patch", reverse("api:prompt-detail", args=[p]), {"name": "Changed"}),
        ("delete", reverse("api:prompt-detail", args=[p]), {}),
        ("post", reverse("api:prompt-duplicate", args=[p]), {}),
        ("post", reverse("api:version-list", args=[p]), {"content": {"messages": [{"role": "user", "content": "x"}]}}),
        ("post", reverse("api:version-restore", args=[p, 1]), {}),
        ("put", reverse("api:label-detail", args=[p, "staging"]), {"version": 1}),
        ("delete", reverse("api:label-detail", args=[p, "production"]), {}),
    ]


def snapshot() -> tuple[int, ...]:
    return (
        Prompt.objects.count(),
        PromptVersion.objects.count(),
        Label.objects.count(),
        LabelMove.objects.count(),
        Asset.objects.count(),
        *Prompt.objects.values_list("name", flat=True),
    )


def test_outsider_gets_404_everywhere(team: Any, api: Any, world: dict[str, Any]) -> None:
    client = api(team.outsider)
    before = snapshot()
    for method, url, body in reads(world) + writes(world):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    upload = client.post(
        reverse("api:asset-list"),
        {"workspace": world["workspace"], "file": SimpleUploadedFile("b.png", media.image_bytes(color=(1, 1, 1)))},
        format="multipart",
    )
    assert upload.status_code == 404
    assert snapshot() == before
    # and the outsider's own listing shows none of it
    assert client.get(reverse("api:prompt-list")).json()["count"] == 0
    assert client.get(reverse("api:asset-list")).json()["count"] == 0


def test_viewer_reads_everything_but_gets_403_on_every_write(team: Any, api: Any, world: dict[str, Any]) -> None:
    client = api(team.viewer)
    for method, url, body in reads(world):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 200, (method, url, response.status_code)
    before = snapshot()
    for method, url, body in writes(world):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
        assert response.json()["detail"]
    upload = client.post(
        reverse("api:asset-list"),
        {"workspace": world["workspace"], "file": SimpleUploadedFile("b.png", media.image_bytes(color=(1, 1, 1)))},
        format="multipart",
    )
    assert upload.status_code == 403
    assert snapshot() == before


def test_anonymous_is_refused(api: Any, team: Any, world: dict[str, Any]) -> None:
    for method, url, body in reads(world)[:4]:
        assert getattr(api(None), method)(url, body, format="json").status_code == 401
