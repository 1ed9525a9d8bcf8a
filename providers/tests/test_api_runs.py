"""/api/testing/: run a saved version, a label or a draft; list and read runs; roles and workspaces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from prompts import services as prompt_services
from providers import services
from providers.fake_server import FakeProvider
from providers.models import Run
from providers.tests.conftest import add_credential
from providers.tests.helpers import rendered

CONTENT = {
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Tell me about {{city}}"}]}],
    "variables": [{"name": "city", "type": "text"}],
    "model": {"provider": "openai", "name": "gpt-4o", "temperature": 0.2},
}


@pytest.fixture
def prompt(team: Any) -> Any:
    p = prompt_services.prompt_create(workspace=team.workspace, user=team.owner, name="City", content=CONTENT)
    changed = json.loads(json.dumps(CONTENT))
    changed["messages"][0]["content"][0]["text"] = "Describe {{city}}"
    prompt_services.version_create(prompt=p, user=team.owner, content=changed)
    prompt_services.label_set(prompt=p, name="production", version=1, user=team.owner)
    return p


def _run(client: Any, payload: dict[str, Any]) -> Any:
    return client.post(reverse("api:testing-run"), payload, format="json")


def test_run_a_label_records_version_and_params(
    team: Any, api: Any, prompt: Any, providers_on_fake: FakeProvider
) -> None:
    add_credential(team.workspace, "openai")
    response = _run(
        api(team.editor),
        {
            "workspace": team.workspace.pk,
            "prompt": prompt.pk,
            "label": "production",
            "variables": {"city": "Lyon"},
            "targets": [{"provider": "openai", "model": "gpt-4o"}, {"provider": "echo", "model": "echo"}],
        },
    )
    assert response.status_code == 201, response.content
    runs = response.json()["runs"]
    assert [r["provider"] for r in runs] == ["openai", "echo"]
    assert runs[0]["output"] == "Echo: Tell me about Lyon"
    assert runs[0]["prompt_version_number"] == 1
    assert runs[0]["params"] == {"temperature": 0.2}
    assert runs[0]["source"] == "api"
    assert runs[1]["output"] == "[user] Tell me about Lyon"
    assert runs[1]["cost"] == "0.00000000"
    assert providers_on_fake.last().body["temperature"] == 0.2


def test_run_latest_version_by_default_and_a_draft(team: Any, api: Any, prompt: Any) -> None:
    client = api(team.editor)
    latest = _run(
        client,
        {
            "workspace": team.workspace.pk,
            "prompt": prompt.pk,
            "variables": {"city": "Nice"},
            "targets": [{"provider": "echo", "model": "echo"}],
        },
    )
    assert latest.json()["runs"][0]["output"] == "[user] Describe Nice"
    draft = _run(
        client,
        {
            "workspace": team.workspace.pk,
            "prompt": prompt.pk,
            "content": rendered("draft text"),
            "targets": [{"provider": "echo", "model": "echo"}],
        },
    )
    run = draft.json()["runs"][0]
    assert run["prompt_version"] is None and run["prompt"] == prompt.pk
    assert "draft text" in run["output"]


def test_missing_variable_is_a_clear_400(team: Any, api: Any, prompt: Any) -> None:
    response = _run(
        api(team.editor),
        {"workspace": team.workspace.pk, "prompt": prompt.pk, "targets": [{"provider": "echo", "model": "echo"}]},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "variables: Missing variable: city."
    assert not Run.objects.exists()


def test_unknown_model_and_missing_key_are_refused_before_any_run(
    team: Any, api: Any, providers_on_fake: FakeProvider
) -> None:
    client = api(team.editor)
    unknown = _run(
        client,
        {
            "workspace": team.workspace.pk,
            "content": rendered(),
            "targets": [{"provider": "openai", "model": "gpt-nope"}],
        },
    )
    assert unknown.status_code == 400
    assert "gpt-nope is not in the model catalog" in unknown.json()["detail"]
    no_key = _run(
        client,
        {
            "workspace": team.workspace.pk,
            "content": rendered(),
            "targets": [{"provider": "anthropic", "model": "claude-haiku-4-5"}],
        },
    )
    assert no_key.status_code == 400
    assert no_key.json()["detail"] == "targets: " + services.NO_CREDENTIAL.format(provider="Anthropic")
    assert not Run.objects.exists() and providers_on_fake.request_count == 0


def test_more_than_four_targets_are_refused(team: Any, api: Any) -> None:
    response = _run(
        api(team.editor),
        {"workspace": team.workspace.pk, "content": rendered(), "targets": [{"provider": "echo", "model": "echo"}] * 5},
    )
    assert response.status_code == 400


def test_stream_returns_server_sent_events(team: Any, api: Any, providers_on_fake: FakeProvider) -> None:
    add_credential(team.workspace, "mistral")
    response = _run(
        api(team.editor),
        {
            "workspace": team.workspace.pk,
            "content": rendered("stream me"),
            "stream": True,
            "targets": [
                {"provider": "mistral", "model": "mistral-small-latest"},
                {"provider": "echo", "model": "echo"},
            ],
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    frames = [f for f in body.split("\n\n") if f]
    names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
    assert names.count("run") == 2 and names.count("done") == 2 and names[-1] == "end"
    done = [json.loads(f.split("\n")[1].removeprefix("data: ")) for f in frames if f.startswith("event: done")]
    assert {d["run"]["status"] for d in done} == {"ok"}
    assert Run.objects.filter(status="ok").count() == 2


@pytest.mark.parametrize(("role", "status"), [("editor", 201), ("viewer", 403), ("outsider", 404)])
def test_editors_run_viewers_cannot_outsiders_get_404(team: Any, api: Any, role: str, status: int) -> None:
    response = _run(
        api(team.user(role)),
        {"workspace": team.workspace.pk, "content": rendered(), "targets": [{"provider": "echo", "model": "echo"}]},
    )
    assert response.status_code == status


def _make_runs(team: Any, count: int) -> None:
    for i in range(count):
        services.run_execute(
            workspace=team.workspace,
            user=team.editor,
            rendered=rendered(f"run {i}"),
            target=services.Target("echo", "echo"),
        )


@pytest.mark.parametrize("count", [5, 50])
def test_run_list_query_count_is_flat(team: Any, api: Any, django_assert_num_queries: Any, count: int) -> None:
    _make_runs(team, count)
    client = api(team.viewer)
    with django_assert_num_queries(4):  # user, memberships, count, page
        response = client.get(reverse("api:testing-runs"), {"page_size": 100})
    assert response.json()["count"] == count


def test_run_list_filters_and_other_workspace(team: Any, api: Any) -> None:
    _make_runs(team, 3)
    services.run_execute(
        workspace=team.other_workspace, user=team.outsider, rendered=rendered(), target=services.Target("echo", "echo")
    )
    Run.objects.filter(pk=Run.objects.filter(workspace=team.workspace).first().pk).update(status="error")
    client = api(team.viewer)
    assert client.get(reverse("api:testing-runs")).json()["count"] == 3
    assert client.get(reverse("api:testing-runs"), {"status": "error"}).json()["count"] == 1
    assert client.get(reverse("api:testing-runs"), {"model": "gpt-4o"}).json()["count"] == 0
    assert client.get(reverse("api:testing-runs"), {"from": "2000-01-01", "to": "2999-01-01"}).json()["count"] == 3
    assert client.get(reverse("api:testing-runs"), {"from": "yesterday"}).status_code == 400
    assert client.get(reverse("api:testing-runs"), {"workspace": team.other_workspace.pk}).status_code == 404
    other = Run.objects.get(workspace=team.other_workspace)
    assert client.get(reverse("api:testing-run-detail", args=[other.pk])).status_code == 404
    mine = Run.objects.filter(workspace=team.workspace).first()
    assert client.get(reverse("api:testing-run-detail", args=[mine.pk])).json()["id"] == mine.pk


def test_models_endpoint_lists_catalog_and_workspace_custom_models(team: Any, api: Any) -> None:
    services.custom_model_create(workspace=team.workspace, model_id="my-llama")
    services.custom_model_create(workspace=team.other_workspace, model_id="their-llama")
    data = api(team.viewer).get(reverse("api:provider-models"), {"workspace": team.workspace.pk}).json()
    ids = {m["model_id"] for m in data}
    assert {"gpt-4o", "claude-sonnet-4-6", "mistral-small-latest", "echo", "my-llama"} <= ids
    assert "their-llama" not in ids
    mistral = next(m for m in data if m["model_id"] == "mistral-small-latest")
    assert mistral["verified"] is False and mistral["prices_read_on"]


def test_admin_adds_custom_model_editor_cannot(team: Any, api: Any) -> None:
    payload = {
        "workspace": team.workspace.pk,
        "model_id": "qwen",
        "input_modalities": ["text", "image"],
        "price_input": "0.1",
        "price_output": "0.2",
    }
    assert api(team.editor).post(reverse("api:provider-models"), payload, format="json").status_code == 403
    created = api(team.admin).post(reverse("api:provider-models"), payload, format="json")
    assert created.status_code == 201 and created.json()["custom"] is True
    assert api(team.admin).delete(reverse("api:provider-model-detail", args=[created.json()["id"]])).status_code == 204


def test_estimate_is_labelled(team: Any, api: Any) -> None:
    response = api(team.viewer).post(
        reverse("api:testing-estimate"),
        {
            "workspace": team.workspace.pk,
            "content": rendered("x" * 400),
            "targets": [{"provider": "openai", "model": "gpt-4o", "params": {"max_tokens": 100}}],
        },
        format="json",
    )
    estimate = response.json()["estimates"][0]
    assert estimate["estimated"] is True and estimate["note"].startswith("Estimate")
    assert estimate["output_tokens"] == 100
