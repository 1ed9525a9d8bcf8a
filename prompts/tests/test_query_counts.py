"""Query counts are the same for 5 and 50 rows on the list endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prompts.models import Label
from prompts.services import prompt_create, version_create

pytestmark = pytest.mark.django_db


def content(n: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"Text {n} {{{{x}}}}"}]}


def count_queries(client: Any, url: str, params: dict[str, Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


def test_prompt_list_query_count_is_constant(team: Any, api: Any) -> None:
    client = api(team.viewer)
    url = reverse("api:prompt-list")

    def add(n: int) -> None:
        for i in range(n):
            prompt = prompt_create(
                workspace=team.workspace, user=team.editor, name=f"P{i}", tags=["t"], content=content(i)
            )
            Label.objects.create(prompt=prompt, name="production", version=prompt.versions.get())
            Label.objects.create(prompt=prompt, name="staging", version=prompt.versions.get())

    add(5)
    five = count_queries(client, url, {"workspace": team.workspace.pk})
    add(45)
    fifty = count_queries(client, url, {"workspace": team.workspace.pk})
    assert five == fifty
    assert client.get(url, {"workspace": team.workspace.pk}).json()["count"] == 50
    # filters don't add per-row queries either
    assert count_queries(client, url, {"tag": "t", "label": "production", "search": "P"}) <= fifty


def test_version_list_query_count_is_constant(team: Any, api: Any) -> None:
    client = api(team.viewer)
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="Many")

    def add(start: int, n: int) -> None:
        for i in range(start, start + n):
            version, _ = version_create(prompt=prompt, user=team.editor, content=content(i))
            Label.objects.create(prompt=prompt, name=f"l{i}", version=version)

    add(0, 5)
    url = reverse("api:version-list", args=[prompt.pk])
    five = count_queries(client, url, {})
    add(5, 45)
    fifty = count_queries(client, url, {})
    assert five == fifty
    assert client.get(url).json()["count"] == 50


def test_asset_list_query_count_is_constant(team: Any, api: Any) -> None:
    from prompts.tests.factories import AssetFactory

    client = api(team.viewer)
    url = reverse("api:asset-list")
    AssetFactory.create_batch(5, workspace=team.workspace)
    five = count_queries(client, url, {"workspace": team.workspace.pk})
    AssetFactory.create_batch(45, workspace=team.workspace)
    assert count_queries(client, url, {"workspace": team.workspace.pk}) == five
