"""/api/exports/: downloads, snippets and imports, with the role matrix and other-workspace 404s."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exports import exporters
from exports.formats import load_yaml
from prompts.models import Prompt
from prompts.services import prompt_create


def export_urls(filled: Any) -> list[str]:
    from abtests.models import ABTest

    test = ABTest.objects.get(workspace=filled.workspace)
    return [
        reverse("api:export-prompt", args=[filled.prompt.pk]) + "?format=yaml",
        reverse("api:export-snippet", args=[filled.prompt.pk]) + "?lang=python-openai",
        reverse("api:export-template", args=[filled.template.pk]),
        reverse("api:export-dataset", args=[filled.dataset.pk]) + "?format=jsonl",
        reverse("api:export-test", args=[test.pk]) + "?format=promptfoo",
        reverse("api:export-runs") + f"?workspace={filled.workspace.pk}",
    ]


@pytest.mark.django_db
def test_viewers_export_and_outsiders_get_404(filled: Any, team: Any, api: Any) -> None:
    for url in export_urls(filled):
        assert api(team.viewer).get(url).status_code == 200, url
        response = api(team.outsider).get(url)
        assert response.status_code == 404, url
        assert api(None).get(url).status_code == 401, url


@pytest.mark.django_db
def test_prompt_export_formats_and_versions(filled: Any, team: Any, api: Any) -> None:
    url = reverse("api:export-prompt", args=[filled.prompt.pk])
    response = api(team.viewer).get(url + "?format=yaml&versions=2")
    assert response["Content-Type"] == "application/yaml"
    assert response["Content-Disposition"] == 'attachment; filename="media-describer-v2.yaml"'
    document = load_yaml(response.content.decode())
    assert [v["number"] for v in document["prompts"][0]["versions"]] == [2]
    archive = api(team.viewer).get(url + "?media=archive")
    assert archive["Content-Type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    bad = api(team.viewer).get(url + "?versions=9")
    assert bad.status_code == 404 and bad.json()["detail"] == "versions: This prompt has no version 9."
    assert api(team.viewer).get(url + "?format=xml").json()["detail"] == "format: format must be one of json, yaml."


@pytest.mark.django_db
def test_snippet_endpoint_returns_code_and_files(filled: Any, team: Any, api: Any) -> None:
    url = reverse("api:export-snippet", args=[filled.prompt.pk])
    data = (
        api(team.viewer)
        .get(url, {"lang": "curl", "version": 1, "media": "file", "variables": json.dumps({"subject": "bill"})})
        .json()
    )
    assert data["version"] == 1 and data["provider"] == "openai" and data["filename"] == "prompt.sh"
    assert "Describe the bill" in data["code"]
    assert {f["name"] for f in data["files"]} == {"chart.png", "clip.wav", "invoice.pdf"}
    assert data["files"][0]["url"].startswith("/api/assets/")
    bad = api(team.viewer).get(url, {"lang": "python-openai", "variables": "[1]"})
    assert bad.status_code == 400 and "variables must be a JSON object" in bad.json()["detail"]
    bad = api(team.viewer).get(url, {"lang": "python-anthropic"})
    assert bad.status_code == 400 and "which Anthropic model" in bad.json()["detail"]


@pytest.mark.django_db
def test_test_export_formats(filled: Any, team: Any, api: Any) -> None:
    from abtests.models import ABTest

    url = reverse("api:export-test", args=[ABTest.objects.get(workspace=team.workspace).pk])
    document = api(team.viewer).get(url + "?format=json").json()
    (test,) = document["abtests"]
    assert len(test["trials"]) == 4 and test["results"]["control"]["name"] == "cool"
    csv_text = api(team.viewer).get(url + "?format=csv").content.decode()
    assert csv_text.splitlines()[0].startswith("variant,row_index,repetition,status,passed,score")
    assert len(csv_text.strip().splitlines()) == 5
    lines = api(team.viewer).get(url + "?format=jsonl").content.decode().splitlines()
    assert json.loads(lines[0])["vars"]["subject"] == "receipt"
    promptfoo = load_yaml(api(team.viewer).get(url + "?format=promptfoo").content.decode())
    assert [p["id"] for p in promptfoo["providers"]] == ["openai:gpt-4o-mini", "openai:gpt-4o-mini"]
    assert promptfoo["defaultTest"]["assert"] == [{"type": "contains", "value": "{{ subject }}"}]


@pytest.mark.django_db
def test_workspace_export_and_import_through_the_api(filled: Any, team: Any, api: Any) -> None:
    response = api(team.viewer).post(reverse("api:export-workspace"), {"workspace": team.workspace.pk}, format="json")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    upload = SimpleUploadedFile("ws.zip", response.content)
    url = reverse("api:export-import")
    preview = api(team.outsider).post(url, {"workspace": team.other_workspace.pk, "file": upload, "dry_run": True})
    assert preview.status_code == 200
    assert preview.json()["counts"] == {
        "prompts": 2,
        "templates": 1,
        "datasets": 1,
        "runs": 2,
        "abtests": 1,
        "assets": 3,
    }
    assert not Prompt.objects.filter(workspace=team.other_workspace).exists()
    upload.seek(0)
    created = api(team.outsider).post(url, {"workspace": team.other_workspace.pk, "file": upload})
    assert created.status_code == 201
    ids = {item["id"] for item in created.json()["created"]["prompts"]}
    assert ids == set(Prompt.objects.filter(workspace=team.other_workspace).values_list("pk", flat=True))


@pytest.mark.django_db
def test_only_editors_import_and_never_into_another_workspace(filled: Any, team: Any, api: Any) -> None:
    data = exporters.prompt_export(prompt=filled.text_prompt, fmt="json").data
    url = reverse("api:export-import")

    def post(user: Any, workspace: Any) -> Any:
        return api(user).post(url, {"workspace": workspace.pk, "file": SimpleUploadedFile("p.json", data)})

    assert post(team.viewer, team.workspace).status_code == 403
    assert post(team.outsider, team.workspace).status_code == 404
    assert post(team.editor, team.other_workspace).status_code == 404
    assert post(team.editor, team.workspace).status_code == 201


@pytest.mark.django_db
def test_a_refused_import_is_a_400_with_the_reason(team: Any, api: Any) -> None:
    url = reverse("api:export-import")
    response = api(team.editor).post(
        url, {"workspace": team.workspace.pk, "file": SimpleUploadedFile("x.yaml", b"format: [\n")}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("file: The YAML is malformed at line 2, column 1")


@pytest.mark.django_db
def test_promptfoo_configs_are_recognised_by_the_import_endpoint(team: Any, api: Any) -> None:
    config = "prompts: ['Hi {{name}}']\nproviders: [openai:gpt-4o-mini]\ntests:\n  - vars: {name: Ada}\n"
    response = api(team.editor).post(
        reverse("api:export-import"),
        {"workspace": team.workspace.pk, "file": SimpleUploadedFile("promptfooconfig.yaml", config.encode())},
    )
    assert response.status_code == 201
    assert response.json()["counts"] == {"prompts": 1, "datasets": 1, "abtests": 0}
    (note,) = response.json()["unmapped"]
    assert note["reason"].startswith("An A/B test needs 2 to 10 variants (prompts x providers) and this config makes 1")


@pytest.mark.django_db
def test_workspace_export_query_count_does_not_grow_with_the_workspace(team: Any, filled: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            exporters.workspace_bundle(workspace_id=team.workspace.pk)
        return len(queries)

    small = count()
    for i in range(15):
        prompt_create(
            workspace=team.workspace,
            user=team.editor,
            name=f"Extra {i}",
            content={"messages": [{"role": "user", "content": [{"type": "text", "text": f"Hi {i}"}]}]},
        )
    assert count() == small
