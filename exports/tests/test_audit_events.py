"""Every export and every applied import, through a page or the API, appends exactly one audit event
naming the actor, the workspace, the target, the format and the way in; dry runs, refusals and
snippets append none."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from abtests.models import ABTest, Dataset
from audit.models import ACTION_LABELS, AuditEvent
from exports import exporters
from exports.tests.test_promptfoo import CONFIG
from prompts.models import Prompt

pytestmark = pytest.mark.django_db

UA = "export-audit-test/1.0"


def browser(user: Any) -> Client:
    client = Client(HTTP_USER_AGENT=UA)
    client.force_login(user)
    return client


def events(prefix: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__startswith=prefix).order_by("id"))


def only_event(prefix: str) -> AuditEvent:
    found = events(prefix)
    assert len(found) == 1, [e.action for e in found]
    return found[0]


def target_of(event: AuditEvent) -> tuple[str, str]:
    return event.target_type, event.target_id


# --- exports ----------------------------------------------------------------------------------------


def page_download(filled: Any, team: Any, **params: Any) -> Any:
    return browser(team.viewer).get(reverse("exports:download"), params)


@pytest.mark.parametrize(
    ("params", "action", "target", "details"),
    [
        (
            {"type": "prompt", "format": "yaml"},
            "export.prompt",
            "prompt",
            {"format": "yaml", "media": "data-url", "versions": "all"},
        ),
        (
            {"type": "prompt", "format": "json", "version": "1", "media": "archive"},
            "export.prompt",
            "prompt",
            {"format": "zip", "media": "archive", "versions": 1},
        ),
        ({"type": "template", "format": "json"}, "export.template", "template", {"format": "json"}),
        ({"type": "dataset", "format": "csv"}, "export.dataset", "dataset", {"format": "csv"}),
        ({"type": "test", "format": "promptfoo"}, "export.abtest", "test", {"format": "promptfoo"}),
        ({"type": "runs", "format": "jsonl"}, "export.runs", "workspace", {"format": "jsonl"}),
    ],
)
def test_each_page_download_writes_one_export_event(
    filled: Any, team: Any, params: dict[str, str], action: str, target: str, details: dict[str, Any]
) -> None:
    objects = {
        "prompt": filled.prompt,
        "template": filled.template,
        "dataset": filled.dataset,
        "test": ABTest.objects.get(workspace=team.workspace),
        "workspace": team.workspace,
    }
    obj = objects[target]
    if params["type"] != "runs":
        params = {**params, "id": obj.pk}
    response = browser(team.viewer).get(reverse("exports:download"), params, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200
    event = only_event("export.")
    assert event.action == action and event.label == ACTION_LABELS[action]
    assert (event.actor_id, event.workspace_id, event.workspace_name) == (team.viewer.pk, team.workspace.pk, "Acme")
    assert target_of(event) == (f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk))
    assert {k: event.details[k] for k in details} == details
    assert event.details["via"] == "page" and event.details["bytes"] == len(response.content)
    assert event.details["file"] in response["Content-Disposition"]
    assert (event.ip, event.user_agent) == ("198.51.100.7", UA)


def test_the_workspace_archive_page_writes_one_export_event(filled: Any, team: Any) -> None:
    response = browser(team.viewer).post(reverse("exports:workspace"), {"media": "archive"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    event = only_event("export.")
    assert event.action == "export.workspace" and event.actor_id == team.viewer.pk
    assert target_of(event) == ("accounts.workspace", str(team.workspace.pk))
    assert event.details["format"] == "zip" and event.details["media"] == "archive" and event.details["via"] == "page"


@pytest.mark.parametrize(
    ("name", "request_args", "action", "target", "details"),
    [
        ("prompt", {"versions": "2", "format": "json"}, "export.prompt", "prompt", {"format": "json", "versions": 2}),
        ("template", {"format": "yaml"}, "export.template", "template", {"format": "yaml"}),
        (
            "dataset",
            {"format": "jsonl", "media": "archive"},
            "export.dataset",
            "dataset",
            {"format": "zip", "media": "archive"},
        ),
        ("test", {"format": "csv"}, "export.abtest", "test", {"format": "csv"}),
        ("runs", {"format": "csv"}, "export.runs", "prompt", {"format": "csv"}),
        ("workspace", {}, "export.workspace", "workspace", {"format": "zip", "media": "archive"}),
    ],
)
def test_each_api_export_writes_one_export_event(
    filled: Any,
    team: Any,
    api: Any,
    name: str,
    request_args: dict[str, str],
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    test = ABTest.objects.get(workspace=team.workspace)
    objects = {
        "prompt": filled.prompt,
        "template": filled.template,
        "dataset": filled.dataset,
        "test": test,
        "workspace": team.workspace,
    }
    client = api(team.viewer)
    if name == "workspace":
        response = client.post(reverse("api:export-workspace"), {"workspace": team.workspace.pk}, format="json")
    elif name == "runs":
        params = {"workspace": team.workspace.pk, "prompt": filled.prompt.pk, **request_args}
        response = client.get(reverse("api:export-runs"), params)
    else:
        url = reverse(f"api:export-{name}", args=[objects[name].pk])
        response = client.get(url, request_args)
    assert response.status_code == 200, response.content[:300]
    event = only_event("export.")
    obj = objects[target]
    assert event.action == action
    assert (event.actor_id, event.workspace_id) == (team.viewer.pk, team.workspace.pk)
    assert target_of(event) == (f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk))
    assert {k: event.details[k] for k in details} == details
    assert event.details["via"] == "api" and event.details["bytes"] == len(response.content)
    if name == "runs":
        assert event.details["prompt"] == filled.prompt.pk


def test_refused_and_forbidden_exports_and_snippets_write_nothing(filled: Any, team: Any, api: Any) -> None:
    url = reverse("exports:download")
    assert browser(team.viewer).get(url, {"type": "prompt", "id": filled.prompt.pk, "format": "csv"}).status_code == 302
    assert browser(team.outsider).get(url, {"type": "prompt", "id": filled.prompt.pk}).status_code == 404
    bad = api(team.viewer).get(reverse("api:export-template", args=[filled.template.pk]), {"format": "csv"})
    assert bad.status_code == 400
    snippet = api(team.viewer).get(reverse("api:export-snippet", args=[filled.prompt.pk]), {"lang": "curl"})
    assert snippet.status_code == 200
    panel = browser(team.viewer).get(reverse("exports:snippet", args=[filled.prompt.pk]), {"lang": "curl"})
    assert panel.status_code == 200
    assert events("export.") == []


# --- imports ----------------------------------------------------------------------------------------


def test_the_import_page_records_the_confirmed_archive_once_and_the_preview_never(filled: Any, team: Any) -> None:
    data = exporters.workspace_export(workspace=team.workspace).data
    client = browser(team.outsider)
    url = reverse("exports:import")
    preview = client.post(url, {"file": SimpleUploadedFile("acme.zip", data), "action": "preview"})
    assert preview.status_code == 200 and events("import.") == []
    token = re.search(r'name="token" value="([0-9a-f]+)"', preview.content.decode()).group(1)  # type: ignore[union-attr]
    assert client.post(url, {"action": "confirm", "token": token}).status_code == 302
    event = only_event("import.")
    assert event.action == "import.studio" and event.label == "Studio export imported"
    assert (event.actor_id, event.workspace_id, event.workspace_name) == (
        team.outsider.pk,
        team.other_workspace.pk,
        "Other Co",
    )
    assert target_of(event) == ("accounts.workspace", str(team.other_workspace.pk))
    assert event.details["kind"] == "workspace" and event.details["format"] == "zip"
    assert event.details["file"] == "acme.zip" and event.details["via"] == "page"
    assert event.details["created"]["prompts"] == 2 and event.details["assets"] == 3
    assert event.user_agent == UA


def test_a_studio_import_through_the_api_targets_the_one_object_it_made(filled: Any, team: Any, api: Any) -> None:
    exported = exporters.prompt_export(prompt=filled.text_prompt, fmt="yaml")
    url = reverse("api:export-import")

    def post(**extra: Any) -> Any:
        upload = SimpleUploadedFile(exported.filename, exported.data)
        return api(team.outsider).post(url, {"workspace": team.other_workspace.pk, "file": upload, **extra})

    assert post(dry_run=True).status_code == 200
    assert events("import.") == []
    assert post().status_code == 201
    event = only_event("import.")
    made = Prompt.objects.get(workspace=team.other_workspace)
    assert event.action == "import.studio" and target_of(event) == ("prompts.prompt", str(made.pk))
    assert (event.actor_id, event.workspace_id) == (team.outsider.pk, team.other_workspace.pk)
    assert event.details["kind"] == "prompt" and event.details["format"] == "yaml" and event.details["via"] == "api"
    assert event.details["created"] == {"prompts": 1}


def test_refused_and_forbidden_imports_write_nothing(filled: Any, team: Any, api: Any) -> None:
    exported = exporters.prompt_export(prompt=filled.text_prompt, fmt="json")
    url = reverse("api:export-import")
    broken = SimpleUploadedFile("p.json", exported.data.replace(b'"prompts"', b'"prompts_x"'))
    assert api(team.editor).post(url, {"workspace": team.workspace.pk, "file": broken}).status_code == 400
    viewer = SimpleUploadedFile("p.json", exported.data)
    assert api(team.viewer).post(url, {"workspace": team.workspace.pk, "file": viewer}).status_code == 403
    page = browser(team.editor).post(
        reverse("exports:import"), {"file": SimpleUploadedFile("bad.yaml", b"format: [\n"), "action": "preview"}
    )
    assert page.status_code == 400
    dataset = api(team.editor).post(
        reverse("api:dataset-import"),
        {"workspace": team.workspace.pk, "file": SimpleUploadedFile("bad.csv", b"a,b\n1\n")},
    )
    assert dataset.status_code == 400
    assert events("import.") == []


@pytest.mark.parametrize("way", ["page", "api"])
def test_a_promptfoo_import_writes_one_event_targeting_the_ab_test(team: Any, api: Any, way: str) -> None:
    upload = SimpleUploadedFile("promptfooconfig.yaml", CONFIG.encode())
    if way == "api":
        response = api(team.editor).post(
            reverse("api:export-import"), {"workspace": team.workspace.pk, "file": upload, "kind": "promptfoo"}
        )
        assert response.status_code == 201
    else:
        client = browser(team.editor)
        url = reverse("exports:import")
        preview = client.post(url, {"file": upload, "action": "preview", "kind": "promptfoo"})
        assert preview.status_code == 200 and events("import.") == []
        token = re.search(r'name="token" value="([0-9a-f]+)"', preview.content.decode()).group(1)  # type: ignore[union-attr]
        assert client.post(url, {"action": "confirm", "token": token, "kind": "promptfoo"}).status_code == 302
    event = only_event("import.")
    test = ABTest.objects.get(workspace=team.workspace)
    assert event.action == "import.promptfoo" and target_of(event) == ("abtests.abtest", str(test.pk))
    assert (event.actor_id, event.workspace_id) == (team.editor.pk, team.workspace.pk)
    assert event.details["format"] == "yaml" and event.details["file"] == "promptfooconfig.yaml"
    assert event.details["via"] == way
    assert event.details["created"] == {"prompts": 2, "datasets": 1, "abtests": 1}


QUIZ = b"question,expected\nwhat is 2+2?,4\nname a colour,red\n"


@pytest.mark.parametrize("way", ["page", "api"])
def test_a_dataset_import_writes_one_event_targeting_the_dataset(team: Any, api: Any, way: str) -> None:
    if way == "api":
        url = reverse("api:dataset-import")
        preview = api(team.editor).post(
            url, {"workspace": team.workspace.pk, "file": SimpleUploadedFile("quiz.csv", QUIZ), "dry_run": True}
        )
        assert preview.status_code == 200 and events("import.") == []
        response = api(team.editor).post(
            url, {"workspace": team.workspace.pk, "file": SimpleUploadedFile("quiz.csv", QUIZ), "name": "quiz"}
        )
        assert response.status_code == 201
    else:
        client = browser(team.editor)
        url = reverse("abtests:dataset-import")
        preview = client.post(url, {"action": "preview", "file": SimpleUploadedFile("quiz.csv", QUIZ), "name": ""})
        assert preview.status_code == 200 and events("import.") == []
        token = preview.content.decode().split('name="token" value="')[1].split('"')[0]
        assert client.post(url, {"action": "confirm", "token": token, "name": "quiz"}).status_code == 302
    event = only_event("import.")
    dataset = Dataset.objects.get(workspace=team.workspace, name="quiz")
    assert event.action == "import.dataset" and target_of(event) == ("abtests.dataset", str(dataset.pk))
    assert (event.actor_id, event.workspace_id) == (team.editor.pk, team.workspace.pk)
    assert event.details["format"] == "csv" and event.details["rows"] == 2 and event.details["via"] == way


def test_the_audit_filter_offers_the_export_and_import_kinds(filled: Any, team: Any) -> None:
    browser(team.viewer).get(reverse("exports:download"), {"type": "runs", "format": "csv"})
    client = browser(team.admin)
    html = client.get(reverse("audit:log")).content.decode()
    for code in ("export.prompt", "export.workspace", "import.studio", "import.promptfoo", "import.dataset"):
        assert f'<option value="{code}"' in html
    only_exports = client.get(reverse("audit:log"), {"action": "export"}).content.decode()
    assert '<span class="mono small muted">export.runs</span>' in only_exports
    assert '<span class="mono small muted">label.moved</span>' not in only_exports
    assert AuditEvent.objects.filter(action="label.moved", workspace=team.workspace).exists()
