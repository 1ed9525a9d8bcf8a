"""The playground page: who may see and run it, deep links, the SSE stream and the records it leaves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from prompts.demo import seed as seed_demo_prompts
from prompts.models import Prompt
from prompts.services import label_set, prompt_create, version_create
from prompts.tests.factories import png_bytes
from providers import playground
from providers.fake_server import FakeProvider
from providers.models import Run, RunSource, RunStatus
from providers.selectors import NO_PROMPT
from providers.tests.conftest import TEST_KEY, add_credential

pytestmark = pytest.mark.django_db

QUESTION_PROMPT = {
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "You answer in one line."}]},
        {"role": "user", "content": [{"type": "text", "text": "Question about {{ topic }}: {{ question }}"}]},
    ],
    "variables": [{"name": "topic", "type": "text", "default": "cats"}, {"name": "question", "type": "text"}],
    "model": {"provider": "echo", "name": "echo", "max_tokens": 64},
}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_prompt(team: Any, name: str = "Questions", content: dict[str, Any] | None = None) -> Prompt:
    return prompt_create(workspace=team.workspace, user=team.owner, name=name, content=content or QUESTION_PROMPT)


def sse_events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    body = b"".join(response.streaming_content).decode()
    events = []
    for frame in body.split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def run_body(prompt: Prompt | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": prompt.pk if prompt else None,
        "version": "",
        "variables": {"topic": "dogs", "question": "Do they dream?"},
        "targets": [{"model": "echo:echo", "max_tokens": 32}],
    }
    body.update(extra)
    return body


def post_json(client: Client, name: str, body: Any) -> Any:
    return client.post(reverse(name), data=json.dumps(body), content_type="application/json")


# --- the page -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "editor", "viewer"])
def test_every_member_sees_the_playground(team: Any, role: str) -> None:
    prompt = make_prompt(team)
    response = client_for(team.user(role)).get(reverse("providers:playground"), {"prompt": prompt.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-playground" in html
    assert "Questions" in html
    # Variables of the chosen version, with their defaults.
    assert 'data-variable="topic"' in html and 'value="cats"' in html
    assert 'data-variable="question"' in html
    can_run = role != "viewer"
    assert ('data-shortcut="mod+enter"' in html) is can_run
    assert (playground_viewer_note() in html) is (not can_run)


def playground_viewer_note() -> str:
    from providers.views import VIEWER_CANNOT_RUN

    return VIEWER_CANNOT_RUN


def test_sidebar_links_to_the_playground(team: Any) -> None:
    response = client_for(team.editor).get(reverse("home"))
    assert reverse("providers:playground") in response.content.decode()


def test_playground_without_keys_offers_echo_and_a_blank_draft(team: Any) -> None:
    response = client_for(team.editor).get(reverse("providers:playground"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="echo:echo"' in html and "No provider keys yet" in html
    # Without a key the other providers are listed but can't be picked.
    assert 'value="openai:gpt-4o" data-provider="openai" disabled' in html
    assert "data-draft-editor" in html and "— Blank draft —" in html


def test_deep_link_preselects_version_and_label(team: Any) -> None:
    prompt = make_prompt(team)
    changed = {**QUESTION_PROMPT, "variables": [{"name": "topic", "default": "owls"}, {"name": "question"}]}
    version_create(prompt=prompt, user=team.owner, content=changed, message="Owls")
    label_set(prompt=prompt, name="production", version=1, user=team.owner)
    client = client_for(team.viewer)

    html = client.get(reverse("providers:playground"), {"prompt": prompt.pk, "version": 2}).content.decode()
    assert '<option value="2" selected>' in html and 'value="owls"' in html

    html = client.get(reverse("providers:playground"), {"prompt": prompt.pk, "version": 1}).content.decode()
    assert '<option value="1" selected>' in html and 'value="cats"' in html

    html = client.get(reverse("providers:playground"), {"prompt": prompt.pk, "label": "production"}).content.decode()
    assert '<option value="label:production" selected>' in html and 'value="cats"' in html


def test_deep_link_to_a_missing_version_says_so_and_shows_the_latest(team: Any) -> None:
    prompt = make_prompt(team)
    html = client_for(team.editor).get(reverse("providers:playground"), {"prompt": prompt.pk, "version": 9}).content
    assert "no version 9" in html.decode()


def test_outsider_gets_404_for_another_workspaces_prompt(team: Any) -> None:
    prompt = make_prompt(team)
    client = client_for(team.outsider)
    assert client.get(reverse("providers:playground"), {"prompt": prompt.pk}).status_code == 404
    body = run_body(prompt)
    assert post_json(client, "providers:playground-stream", body).status_code == 404
    assert post_json(client, "providers:playground-estimate", body).status_code == 404
    assert Run.objects.count() == 0


def test_source_fragment_for_htmx_prompt_change(team: Any) -> None:
    prompt = make_prompt(team)
    response = client_for(team.editor).get(
        reverse("providers:playground"), {"prompt": prompt.pk}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pg-source"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card pg-source" id="pg-source"')
    assert 'data-variable="question"' in html and "<html" not in html


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(reverse("providers:playground"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- running ------------------------------------------------------------------------------------------


def test_viewer_cannot_run(team: Any) -> None:
    prompt = make_prompt(team)
    response = post_json(client_for(team.viewer), "providers:playground-stream", run_body(prompt))
    assert response.status_code == 403
    assert Run.objects.count() == 0


def test_editor_runs_on_echo_and_the_run_is_recorded(team: Any) -> None:
    prompt = make_prompt(team)
    response = post_json(client_for(team.editor), "providers:playground-stream", run_body(prompt))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "run" and names[-1] == "end" and "delta" in names
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert "Question about dogs: Do they dream?" in text
    done = next(data for name, data in events if name == "done")["run"]
    assert done["status"] == "ok" and done["cost"] is not None and done["latency_ms"] is not None
    assert done["input_tokens"] > 0 and done["output_tokens"] > 0

    run = Run.objects.get()
    assert run.source == RunSource.PLAYGROUND and run.status == RunStatus.OK
    assert run.user == team.editor and run.prompt == prompt and run.prompt_version.number == 1
    assert run.variables == {"topic": "dogs", "question": "Do they dream?"}
    assert run.output == text


def test_stream_of_two_targets_on_the_fake_server_carries_usage_and_cost(
    team: Any, providers_on_fake: FakeProvider
) -> None:
    add_credential(team.workspace, "openai")
    add_credential(team.workspace, "anthropic")
    prompt = make_prompt(team)
    body = run_body(prompt, targets=[{"model": "openai:gpt-4o"}, {"model": "anthropic:claude-haiku-4-5"}])
    events = sse_events(post_json(client_for(team.editor), "providers:playground-stream", body))
    finals = {data["index"]: data["run"] for name, data in events if name == "done"}
    assert set(finals) == {0, 1}
    for final in finals.values():
        assert final["status"] == "ok"
        assert final["input_tokens"] > 0 and final["output_tokens"] > 0
        assert float(final["cost"]) > 0
        assert final["ttft_ms"] is not None
    deltas = {data["index"] for name, data in events if name == "delta"}
    assert deltas == {0, 1}
    assert Run.objects.filter(source=RunSource.PLAYGROUND, status=RunStatus.OK).count() == 2


def test_provider_error_arrives_as_an_error_event_with_the_message(team: Any, providers_on_fake: FakeProvider) -> None:
    add_credential(team.workspace, "openai")
    providers_on_fake.fail_next(401)
    prompt = make_prompt(team)
    body = run_body(prompt, targets=[{"model": "openai:gpt-4o"}])
    events = sse_events(post_json(client_for(team.editor), "providers:playground-stream", body))
    error = next(data for name, data in events if name == "error")["run"]
    assert error["status"] == "error" and error["error_kind"] == "auth" and error["error_message"]
    assert Run.objects.get().status == RunStatus.ERROR


def test_refusals_answer_400_json_and_record_nothing(team: Any) -> None:
    prompt = make_prompt(team)
    client = client_for(team.editor)

    missing = post_json(client, "providers:playground-stream", run_body(prompt, variables={"topic": "x"}))
    assert missing.status_code == 400 and "question" in missing.json()["detail"]

    no_key = post_json(client, "providers:playground-stream", run_body(prompt, targets=[{"model": "openai:gpt-4o"}]))
    assert no_key.status_code == 400 and "no OpenAI credential" in no_key.json()["detail"]

    five = [{"model": "echo:echo"}] * 5
    assert post_json(client, "providers:playground-stream", run_body(prompt, targets=five)).status_code == 400

    bad_json = client.post(reverse("providers:playground-stream"), data="{", content_type="application/json")
    assert bad_json.status_code == 400
    assert Run.objects.count() == 0


def test_prompt_of_a_workspace_id_the_user_is_not_in_is_404_even_as_draft(team: Any) -> None:
    theirs = prompt_create(workspace=team.other_workspace, user=team.outsider, name="Theirs", content=QUESTION_PROMPT)
    body = run_body(theirs, draft={"system": "", "user": "hi"})
    assert post_json(client_for(team.editor), "providers:playground-stream", body).status_code == 404


def test_blank_draft_runs_with_its_own_variables(team: Any) -> None:
    body = {
        "workspace": team.workspace.pk,
        "draft": {"system": "Be brief.", "user": "Hello {{ name }}!"},
        "variables": {"name": "Ada", "stale": "ignored, no longer in the draft"},
        "targets": [{"model": "echo:echo"}],
    }
    events = sse_events(post_json(client_for(team.editor), "providers:playground-stream", body))
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert "Hello Ada!" in text and "Be brief." in text
    run = Run.objects.get()
    assert run.prompt is None and run.prompt_version is None and run.variables == {"name": "Ada"}


def test_draft_over_a_version_keeps_its_other_parts_and_runs_without_a_version(team: Any) -> None:
    prompt = make_prompt(team)
    body = run_body(prompt, draft={"system": "New system.", "user": "Only {{ question }}"})
    events = sse_events(post_json(client_for(team.editor), "providers:playground-stream", body))
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert "New system." in text and "Only Do they dream?" in text and "You answer in one line." not in text
    run = Run.objects.get()
    assert run.prompt == prompt and run.prompt_version is None


def test_draft_with_an_uploaded_image(team: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    client = client_for(team.editor)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        reverse("providers:playground-upload"),
        {
            "workspace": team.workspace.pk,
            "kind": "image",
            "file": SimpleUploadedFile("dot.png", png_bytes(), "image/png"),
        },
    )
    assert upload.status_code == 200, upload.content
    asset_id = upload.json()["id"]
    body = {
        "workspace": team.workspace.pk,
        "draft": {"system": "", "user": "Describe it.", "image": asset_id},
        "targets": [{"model": "echo:echo"}],
    }
    response = post_json(client, "providers:playground-stream", body)
    assert response.status_code == 200
    run = Run.objects.get()
    parts = run.input["messages"][0]["content"]
    assert {"type": "image", "asset": asset_id, "detail": "auto"} in parts


def test_upload_refuses_a_file_that_is_not_an_image_and_viewers(team: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = client_for(team.editor).post(
        reverse("providers:playground-upload"),
        {"workspace": team.workspace.pk, "file": SimpleUploadedFile("x.png", b"not an image at all", "image/png")},
    )
    assert bad.status_code == 400 and bad.json()["detail"]
    viewer = client_for(team.viewer).post(
        reverse("providers:playground-upload"),
        {"workspace": team.workspace.pk, "file": SimpleUploadedFile("dot.png", png_bytes(), "image/png")},
    )
    assert viewer.status_code == 403


# --- estimate and save ---------------------------------------------------------------------------------


def test_estimate_is_labelled_and_viewers_may_ask(team: Any) -> None:
    prompt = make_prompt(team)
    body = run_body(prompt, targets=[{"model": "echo:echo"}, {"model": "openai:gpt-4o", "max_tokens": 100}])
    response = post_json(client_for(team.viewer), "providers:playground-estimate", body)
    assert response.status_code == 200
    first, second = response.json()["estimates"]
    assert first["estimated"] is True and float(first["cost"]) == 0
    assert second["output_tokens"] == 100 and float(second["cost"]) > 0 and "Estimate" in second["note"]
    assert Run.objects.count() == 0


def test_estimate_of_half_filled_input_says_why_without_failing(team: Any) -> None:
    prompt = make_prompt(team)
    body = run_body(prompt, variables={"topic": "x"})
    response = post_json(client_for(team.editor), "providers:playground-estimate", body)
    assert response.status_code == 200
    assert response.json()["estimates"] == [] and "question" in response.json()["error"]
    blank = {"workspace": team.workspace.pk, "draft": {"system": "", "user": ""}, "targets": [{"model": "echo:echo"}]}
    answer = post_json(client_for(team.viewer), "providers:playground-estimate", blank).json()
    assert answer["error"] == playground.DRAFT_EMPTY


def test_save_draft_as_new_version(team: Any) -> None:
    prompt = make_prompt(team)
    body = run_body(prompt, draft={"system": "Terse.", "user": "{{ question }}"}, message="Terser")
    response = post_json(client_for(team.editor), "providers:playground-save", body)
    assert response.status_code == 200, response.content
    assert response.json()["number"] == 2 and response.json()["created"] is True
    version = prompt.versions.get(number=2)
    assert version.message == "Terser" and version.author == team.editor
    texts = [p["text"] for m in version.content["messages"] for p in m["content"] if p["type"] == "text"]
    assert texts == ["Terse.", "{{ question }}"]
    assert [v["name"] for v in version.content["variables"]] == ["question"]

    again = post_json(client_for(team.editor), "providers:playground-save", body)
    assert again.json()["created"] is False and again.json()["number"] == 2


def test_viewer_cannot_save_and_a_blank_draft_needs_a_prompt(team: Any) -> None:
    prompt = make_prompt(team)
    body = run_body(prompt, draft={"system": "", "user": "x"})
    assert post_json(client_for(team.viewer), "providers:playground-save", body).status_code == 403
    blank = post_json(client_for(team.editor), "providers:playground-save", {**body, "prompt": None})
    assert blank.status_code == 400 and blank.json()["detail"]
    assert prompt.versions.count() == 1


def test_demo_prompt_runs_on_echo_without_any_key(team: Any, settings: Any, tmp_path: Any) -> None:
    """Done when 4: a fresh workspace with no key runs the seeded demo prompt on echo."""
    settings.MEDIA_ROOT = str(tmp_path)
    seed_demo_prompts(workspace=team.workspace, user=team.owner)
    support = Prompt.objects.get(workspace=team.workspace, slug="support-reply")
    client = client_for(team.editor)
    html = client.get(reverse("providers:playground"), {"prompt": support.pk, "label": "production"}).content.decode()
    assert 'value="echo:echo" data-provider="echo" selected' in html
    body = run_body(support, version="label:production", variables={}, targets=[{"model": "echo:echo"}])
    events = sse_events(post_json(client, "providers:playground-stream", body))
    assert [name for name, _ in events if name in ("done", "error")] == ["done"]
    assert Run.objects.get().prompt_version.labels.filter(name="production").exists()


def test_other_workspace_prompt_id_in_own_workspace_body_is_rejected(team: Any) -> None:
    assert NO_PROMPT  # the selector's message for a prompt outside the workspace
    theirs = prompt_create(workspace=team.other_workspace, user=team.outsider, name="Theirs", content=QUESTION_PROMPT)
    body = {**run_body(theirs), "workspace": team.workspace.pk}
    assert post_json(client_for(team.editor), "providers:playground-estimate", body).status_code == 404


def test_no_key_ever_appears_on_the_playground(team: Any, providers_on_fake: FakeProvider) -> None:
    add_credential(team.workspace, "openai")
    html = client_for(team.owner).get(reverse("providers:playground")).content.decode()
    assert TEST_KEY not in html and TEST_KEY[-4:] in html


def test_draft_content_drops_empty_text_and_needs_something() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        playground.draft_content(base=None, system="  ", user="", image=None)
    assert playground.DRAFT_EMPTY in error.value.messages
    document = playground.draft_content(base=None, system="", user="Hi {{ a }}", image=None)
    assert document["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi {{ a }}"}]}]


def test_client_going_away_records_the_run_as_cancelled(team: Any, providers_on_fake: FakeProvider) -> None:
    from django.test import RequestFactory

    from providers.views import playground_stream

    add_credential(team.workspace, "openai")
    providers_on_fake.chunk_delay_ms = 50
    prompt = make_prompt(team)
    body = run_body(prompt, targets=[{"model": "openai:gpt-4o"}])
    request = RequestFactory().post(reverse("providers:playground-stream"), json.dumps(body), "application/json")
    request.user = team.editor
    request._dont_enforce_csrf_checks = True
    response = playground_stream(request)
    frames = iter(response)
    received = b""
    while b"event: delta" not in received:
        received += next(frames)
    # What the WSGI server does when the browser disconnects (keeping the test's database connection).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    run = Run.objects.get()
    assert run.status == RunStatus.ERROR and run.error_kind == "cancelled"
    assert run.output  # the text streamed so far is kept


def test_a_chosen_key_is_used_when_a_provider_has_several(team: Any, providers_on_fake: FakeProvider) -> None:
    add_credential(team.workspace, "openai", key="sk-first-key-aaaa")
    second = add_credential(team.workspace, "openai", key="sk-second-key-bbbb")
    first = add_credential(team.workspace, "openai", key="sk-newest-key-cccc")
    html = client_for(team.editor).get(reverse("providers:playground")).content.decode()
    assert "…bbbb" in html and "…cccc" in html and "sk-second-key-bbbb" not in html
    prompt = make_prompt(team)
    body = run_body(prompt, targets=[{"model": "openai:gpt-4o", "credential": str(second.pk)}])
    sse_events(post_json(client_for(team.editor), "providers:playground-stream", body))
    assert Run.objects.get().credential == second
    assert providers_on_fake.last("openai").headers["authorization"] == "Bearer sk-second-key-bbbb"

    theirs = add_credential(team.other_workspace, "openai")
    foreign = run_body(prompt, targets=[{"model": "openai:gpt-4o", "credential": theirs.pk}])
    refused = post_json(client_for(team.editor), "providers:playground-stream", foreign)
    assert refused.status_code == 400 and Run.objects.count() == 1
    assert first.pk != second.pk


def test_image_variable_upload_then_run(team: Any, settings: Any, tmp_path: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    content = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "What is this?"}, {"type": "image", "variable": "photo"}],
            }
        ],
        "variables": [{"name": "photo", "type": "image"}],
    }
    prompt = make_prompt(team, "Photo", content)
    client = client_for(team.editor)
    html = client.get(reverse("providers:playground"), {"prompt": prompt.pk}).content.decode()
    assert 'data-variable="photo" data-type="image"' in html and "Upload an image" in html
    upload = client.post(
        reverse("providers:playground-upload"),
        {"prompt": prompt.pk, "kind": "image", "file": SimpleUploadedFile("p.png", png_bytes(), "image/png")},
    )
    asset_id = upload.json()["id"]
    wrong_kind = client.post(
        reverse("providers:playground-upload"),
        {"prompt": prompt.pk, "kind": "audio", "file": SimpleUploadedFile("p.png", png_bytes(), "image/png")},
    )
    assert wrong_kind.status_code == 400 and "not audio" in wrong_kind.json()["detail"]
    body = run_body(prompt, variables={"photo": {"asset": asset_id}}, targets=[{"model": "echo:echo"}])
    events = sse_events(post_json(client, "providers:playground-stream", body))
    assert [n for n, _ in events if n in ("done", "error")] == ["done"]
    run = Run.objects.get()
    assert {"type": "image", "asset": asset_id, "detail": "auto"} in run.input["messages"][0]["content"]
    assert run.variables == {"photo": {"asset": asset_id}}
