"""Export and import pages: index with pickers, downloads, import preview -> confirm, snippet panel."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from exports import exporters
from prompts.models import Prompt


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_csp_clean(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert " style=" not in html and " onclick=" not in html


@pytest.mark.django_db
def test_index_lists_objects_and_the_sidebar_shows_exports(filled: Any, team: Any) -> None:
    response = client_for(team.viewer).get(reverse("exports:index"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/exports/"' in html and "Exports" in html
    assert filled.prompt.name in html and filled.dataset.name in html and "Warm vs cool" in html
    assert "Import…" not in html  # viewers export only
    assert_csp_clean(html)
    assert "Import…" in client_for(team.editor).get(reverse("exports:index")).content.decode()


@pytest.mark.django_db
def test_downloads_from_the_index_and_404_for_other_workspaces(filled: Any, team: Any) -> None:
    url = reverse("exports:download")
    response = client_for(team.viewer).get(url, {"type": "prompt", "id": filled.prompt.pk, "format": "yaml"})
    assert response.status_code == 200 and response["Content-Type"] == "application/yaml"
    response = client_for(team.viewer).get(url, {"type": "dataset", "id": filled.dataset.pk, "format": "csv"})
    assert response.content.decode().splitlines()[0] == "subject,photo,amount"
    response = client_for(team.viewer).get(url, {"type": "runs", "format": "jsonl"})
    assert len(response.content.decode().splitlines()) == 2
    assert client_for(team.outsider).get(url, {"type": "prompt", "id": filled.prompt.pk}).status_code == 404
    archive = client_for(team.viewer).post(reverse("exports:workspace"), {"media": "archive"})
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"


@pytest.mark.django_db
def test_import_page_previews_then_confirms(filled: Any, team: Any) -> None:
    data = exporters.workspace_export(workspace=team.workspace).data
    client = client_for(team.outsider)
    url = reverse("exports:import")
    assert client.get(url).status_code == 200
    preview = client.post(url, {"file": SimpleUploadedFile("ws.zip", data), "action": "preview"})
    html = preview.content.decode()
    assert preview.status_code == 200 and "ws.zip will create" in html and "Media describer (2 versions)" in html
    assert_csp_clean(html)
    assert not Prompt.objects.filter(workspace=team.other_workspace).exists()
    token = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    done = client.post(url, {"action": "confirm", "token": token})
    assert done.status_code == 302
    assert Prompt.objects.filter(workspace=team.other_workspace).count() == 2
    again = client.post(url, {"action": "confirm", "token": token})
    assert "The preview has expired" in again.content.decode()


@pytest.mark.django_db
def test_import_page_shows_refusals_and_viewers_cannot_import(team: Any) -> None:
    url = reverse("exports:import")
    assert client_for(team.viewer).get(url).status_code == 403
    response = client_for(team.editor).post(
        url, {"file": SimpleUploadedFile("bad.yaml", b"format: [\n"), "action": "preview"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="import-result"')
    assert "Nothing was imported." in html and "line 2, column 1" in html


@pytest.mark.django_db
def test_snippet_panel_and_page(filled: Any, team: Any) -> None:
    version = filled.prompt.versions.get(number=2)
    panel = render_to_string("exports/_snippet_panel.html", {"version": version})
    assert f'hx-get="/exports/snippet/{filled.prompt.pk}/"' in panel and 'name="version" value="2"' in panel
    assert_csp_clean(panel)
    url = reverse("exports:snippet", args=[filled.prompt.pk])
    fragment = client_for(team.viewer).get(url, {"version": 2, "lang": "curl", "media": "file"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.lstrip().startswith(f'<div id="snippet-code-{version.pk}"') and "data-copy-target" in html
    assert "chart.png" in html and "<html" not in html
    page = client_for(team.viewer).get(url, {"lang": "python-anthropic"})
    assert "<html" in page.content.decode() and "which Anthropic model" in page.content.decode()
    assert client_for(team.outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_index_links_each_prompt_to_its_code_page(filled: Any, team: Any) -> None:
    html = client_for(team.viewer).get(reverse("exports:index")).content.decode()
    for prompt in (filled.prompt, filled.text_prompt):
        assert f'<a href="{reverse("exports:snippet", args=[prompt.pk])}">{prompt.name}</a>' in html


@pytest.mark.django_db
def test_snippet_page_loads_its_script_in_the_body(filled: Any, team: Any) -> None:
    # A boosted visit swaps only the <body>; a script in <head> would never run after one.
    html = client_for(team.viewer).get(reverse("exports:snippet", args=[filled.prompt.pk])).content.decode()
    head, body = html.split("</head>", 1)
    assert "js/exports.js" not in head
    assert re.search(r'<script src="[^"]*js/exports\.js" defer></script>', body)
