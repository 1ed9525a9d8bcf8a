"""The prompt editor pages: new, detail (save), version view, uploads; access; errors keep what was typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from prompts import services
from prompts.content import UNKNOWN_ASSET, UNKNOWN_ROLE
from prompts.forms import CONTENT_NOT_JSON
from prompts.models import Asset, Prompt
from prompts.services import NAME_REQUIRED
from prompts.tests.conftest import stored_files
from prompts.tests.factories import png_bytes, text_document
from prompts.views import NOTHING_CHANGED, PROMPT_CREATED, VERSION_SAVED

pytestmark = pytest.mark.django_db

NEW = reverse("prompts:new")
UPLOAD = reverse("prompts:upload")
EDITOR_FRAGMENT = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "prompt-editor"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail(prompt: Prompt) -> str:
    return reverse("prompts:detail", args=[prompt.pk])


def upload_png(team: Any) -> Asset:
    asset, _ = services.asset_create(
        workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("chart.png", png_bytes((40, 30)))
    )
    return asset


def document(text: str = "Describe {{ subject }}", **extra: Any) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
            {"role": "user", "content": [{"type": "text", "text": text}, *extra.pop("parts", [])]},
        ],
        "variables": extra.pop("variables", [{"name": "subject", "type": "text", "default": "a cat"}]),
        "model": extra.pop("model", {"provider": "echo", "name": "echo-1", "temperature": 0.2, "max_tokens": 64}),
    }


def form(content: Any, **values: str) -> dict[str, str]:
    data = {"name": "My prompt", "description": "", "tags": "", "message": ""}
    data.update(values)
    data["content"] = content if isinstance(content, str) else json.dumps(content)
    return data


@pytest.fixture
def prompt(team: Any) -> Prompt:
    return services.prompt_create(
        workspace=team.workspace, user=team.editor, name="Picture describer", content=document(), message="v1"
    )


# --- new -------------------------------------------------------------------------------------------


def test_new_page_shows_an_empty_editor(team: Any) -> None:
    response = browser(team.editor).get(NEW)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'id="prompt-editor"' in html and "data-message" in html
    assert 'data-template="part-image"' in html and 'data-template="variable"' in html
    assert "Create prompt" in html and 'data-shortcut="mod+s"' in html
    assert "js/prompt-editor.js" in html


def test_creating_a_prompt_saves_version_1_and_opens_it(team: Any) -> None:
    asset = upload_png(team)
    content = document(parts=[{"type": "image", "asset": str(asset.pk)}])
    client = browser(team.editor)
    response = client.post(NEW, form(content, name="Chart QA", tags="vision, Charts", message="First"))
    prompt = Prompt.objects.get(workspace=team.workspace, name="Chart QA")
    assert response.status_code == 302 and response["Location"] == detail(prompt)
    version = prompt.versions.get()
    assert version.number == 1 and version.message == "First" and version.author == team.editor
    assert version.content["messages"][1]["content"][1] == {"type": "image", "asset": str(asset.pk), "detail": "auto"}
    assert prompt.tags == ["vision", "charts"]
    page = client.get(detail(prompt)).content.decode()
    assert PROMPT_CREATED.format(name="Chart QA") in page  # the toast


def test_htmx_create_redirects_the_browser_to_the_new_prompt(team: Any) -> None:
    response = browser(team.editor).post(NEW, form(document(), name="Via htmx"), **EDITOR_FRAGMENT)
    prompt = Prompt.objects.get(name="Via htmx")
    assert response.status_code == 200
    assert response["HX-Redirect"] == detail(prompt)


def test_viewer_cannot_open_or_post_the_new_prompt_page(team: Any) -> None:
    client = browser(team.viewer)
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form(document())).status_code == 403
    assert not Prompt.objects.exists()


def test_create_with_invalid_content_keeps_everything_typed(team: Any) -> None:
    bad = document(
        text="Keep this {{ subject }} text", parts=[{"type": "image", "asset": "0" * 8 + "-0000-0000-0000-" + "0" * 12}]
    )
    response = browser(team.editor).post(
        NEW, form(bad, name="Typed name", description="Typed description", message="msg")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert f"messages[1].content[1].asset: {UNKNOWN_ASSET}" in html
    assert "Keep this {{ subject }} text" in html and 'value="Typed name"' in html
    assert "Typed description" in html and 'value="msg"' in html and 'value="echo-1"' in html
    assert not Prompt.objects.exists()


# --- detail: read and save ---------------------------------------------------------------------------


def test_editor_shows_messages_parts_variables_model_and_media_preview(team: Any) -> None:
    asset = upload_png(team)
    prompt = services.prompt_create(
        workspace=team.workspace,
        user=team.editor,
        name="With picture",
        content=document(parts=[{"type": "image", "asset": str(asset.pk), "detail": "high"}]),
    )
    html = browser(team.editor).get(detail(prompt)).content.decode()
    assert "You are terse." in html and "Describe {{ subject }}" in html
    assert 'data-name="subject"' in html and 'value="a cat"' in html
    assert '<option value="echo" selected>' in html and 'value="echo-1"' in html and 'value="0.2"' in html
    assert f"/api/assets/{asset.pk}/content/?thumbnail=1" in html and "40\u00d730 px" in html
    assert '<option value="high" selected>' in html
    assert "Save version" in html and "version 1" in html


def test_saving_changed_content_creates_the_next_version(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    response = client.post(
        detail(prompt), form(document("Describe {{ subject }} briefly"), name=prompt.name, message="Shorter")
    )
    assert response.status_code == 302 and response["Location"] == detail(prompt)
    latest = prompt.versions.order_by("-number").first()
    assert latest is not None and latest.number == 2 and latest.message == "Shorter"
    page = client.get(detail(prompt)).content.decode()
    assert VERSION_SAVED.format(number=2, name=prompt.name) in page


def test_saving_identical_content_makes_no_new_version(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    client.post(detail(prompt), form(document(), name=prompt.name))
    assert prompt.versions.count() == 1
    page = client.get(detail(prompt)).content.decode()
    assert NOTHING_CHANGED.format(name=prompt.name, number=1) in page


def test_saving_updates_name_description_and_tags(team: Any, prompt: Prompt) -> None:
    browser(team.editor).post(
        detail(prompt), form(document(), name="Renamed", description="Now described", tags="a, b")
    )
    prompt.refresh_from_db()
    assert (prompt.name, prompt.description, prompt.tags) == ("Renamed", "Now described", ["a", "b"])
    assert prompt.slug == "picture-describer"  # resolve keeps working after a rename


def test_content_error_is_shown_next_to_the_part_and_nothing_is_saved(team: Any, prompt: Prompt) -> None:
    bad = document("My new typed text")
    bad["messages"].append({"role": "robot", "content": [{"type": "text", "text": "Also typed"}]})
    response = browser(team.editor).post(detail(prompt), form(bad, name="New name typed"), **EDITOR_FRAGMENT)
    html = response.content.decode()
    assert response.status_code == 400
    assert html.lstrip().startswith('<form id="prompt-editor"')  # the editor partial, swapped in place
    assert f"messages[2].role: {UNKNOWN_ROLE}" in html
    assert '<option value="robot" selected>' in html  # the bad role is kept to be fixed
    assert "My new typed text" in html and "Also typed" in html and 'value="New name typed"' in html
    assert "data-unsaved" in html
    assert json.loads(response["HX-Trigger"])["toast"]["level"] == "error"
    prompt.refresh_from_db()
    assert prompt.name == "Picture describer" and prompt.versions.count() == 1


def test_part_error_lands_on_that_part(team: Any, prompt: Prompt) -> None:
    bad = document(parts=[{"type": "audio", "url": "ftp://nope"}])
    html = browser(team.editor).post(detail(prompt), form(bad, name=prompt.name)).content.decode()
    part_start = html.index('class="part part-audio has-error"')
    assert html.index("messages[1].content[1].url: must be an http or https URL") > part_start
    assert 'value="ftp://nope"' in html


def test_variable_and_model_errors_land_next_to_their_fields(team: Any, prompt: Prompt) -> None:
    bad = document(variables=[{"name": "subject", "type": "number", "default": "many"}])
    html = browser(team.editor).post(detail(prompt), form(bad, name=prompt.name)).content.decode()
    assert "variables[0].default: must be a number" in html
    assert 'value="many"' in html
    bad = document(model={"provider": "echo", "temperature": 9})
    html = browser(team.editor).post(detail(prompt), form(bad, name=prompt.name)).content.decode()
    assert "model.temperature: must be a number from 0 to 2" in html and 'value="9"' in html


def test_empty_name_is_refused_next_to_the_name_and_content_is_kept(team: Any, prompt: Prompt) -> None:
    response = browser(team.editor).post(detail(prompt), form(document("Typed before the mistake"), name="  "))
    html = response.content.decode()
    assert response.status_code == 400 and NAME_REQUIRED in html
    assert "Typed before the mistake" in html
    assert prompt.versions.count() == 1


def test_content_that_is_not_json_is_refused_clearly(team: Any, prompt: Prompt) -> None:
    response = browser(team.editor).post(detail(prompt), form("{not json", name=prompt.name))
    assert response.status_code == 400 and CONTENT_NOT_JSON in response.content.decode()


def test_viewer_reads_the_editor_read_only_and_cannot_save(team: Any, prompt: Prompt) -> None:
    client = browser(team.viewer)
    html = client.get(detail(prompt)).content.decode()
    assert "You&#x27;re a viewer" in html or "You're a viewer" in html
    assert '<fieldset class="editor-fieldset" disabled>' in html
    assert "Save version" not in html and 'data-template="message"' not in html
    assert reverse("prompts:delete", args=[prompt.pk]) not in html
    assert client.post(detail(prompt), form(document("hijack"), name="x")).status_code == 403
    assert prompt.versions.count() == 1


def test_editor_sees_no_delete_but_admin_does(team: Any, prompt: Prompt) -> None:
    delete = reverse("prompts:delete", args=[prompt.pk])
    assert delete not in browser(team.editor).get(detail(prompt)).content.decode()
    html = browser(team.admin).get(detail(prompt)).content.decode()
    assert delete in html and "1 version" in html and "can't be undone" in html


def test_outsider_gets_404_for_every_editor_page(team: Any, prompt: Prompt) -> None:
    client = browser(team.outsider)
    assert client.get(detail(prompt)).status_code == 404
    assert client.post(detail(prompt), form(document(), name="x")).status_code == 404
    assert client.get(reverse("prompts:version", args=[prompt.pk, 1])).status_code == 404


def test_fragment_request_gets_the_editor_partial_and_direct_open_the_page(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    fragment = client.get(detail(prompt), **EDITOR_FRAGMENT).content.decode()
    assert fragment.lstrip().startswith('<form id="prompt-editor"') and "<html" not in fragment
    assert "<html" in client.get(detail(prompt)).content.decode()


def test_version_page_shows_an_old_version_read_only_with_restore(team: Any, prompt: Prompt) -> None:
    services.version_create(prompt=prompt, user=team.editor, content=document("Second text"), message="v2")
    client = browser(team.editor)
    html = client.get(reverse("prompts:version", args=[prompt.pk, 1])).content.decode()
    assert "Describe {{ subject }}" in html and "Second text" not in html
    assert "disabled" in html and "Restore as new version" in html
    assert reverse("prompts:restore", args=[prompt.pk, 1]) in html
    assert client.get(reverse("prompts:version", args=[prompt.pk, 9])).status_code == 404
    viewer = browser(team.viewer).get(reverse("prompts:version", args=[prompt.pk, 1])).content.decode()
    assert "Restore as new version" not in viewer


# --- uploads -------------------------------------------------------------------------------------------


def test_upload_stores_the_file_and_returns_its_preview(team: Any, media_root: Path) -> None:
    response = browser(team.editor).post(
        UPLOAD, {"workspace": team.workspace.pk, "file": SimpleUploadedFile("chart.png", png_bytes((50, 20)))}
    )
    body = response.json()
    asset = Asset.objects.get(pk=body["id"])
    assert response.status_code == 200 and body["kind"] == "image" and asset.workspace == team.workspace
    assert f"/api/assets/{asset.pk}/content/" in body["html"] and "50\u00d720 px" in body["html"]
    assert stored_files(media_root)


def test_bad_upload_is_refused_with_a_message_and_nothing_stored(team: Any, media_root: Path) -> None:
    fake = SimpleUploadedFile("evil.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>", "image/png")
    response = browser(team.editor).post(UPLOAD, {"workspace": team.workspace.pk, "file": fake})
    assert response.status_code == 400 and response.json()["error"]
    assert not Asset.objects.exists() and stored_files(media_root) == []
    response = browser(team.editor).post(UPLOAD, {"workspace": team.workspace.pk})
    assert response.status_code == 400 and "Choose a file" in response.json()["error"]


def test_viewer_cannot_upload_and_outsider_gets_404(team: Any) -> None:
    data = {"workspace": team.workspace.pk, "file": SimpleUploadedFile("a.png", png_bytes())}
    assert browser(team.viewer).post(UPLOAD, data).status_code == 403
    data["file"] = SimpleUploadedFile("a.png", png_bytes())
    assert browser(team.outsider).post(UPLOAD, data).status_code == 404
    assert not Asset.objects.exists()


def test_content_cannot_use_another_workspaces_asset(team: Any, prompt: Prompt) -> None:
    theirs, _ = services.asset_create(
        workspace=team.other_workspace, user=team.outsider, upload=SimpleUploadedFile("x.png", png_bytes())
    )
    bad = text_document("Hi")
    bad["messages"][0]["content"].append({"type": "image", "asset": str(theirs.pk)})
    response = browser(team.editor).post(detail(prompt), form(bad, name=prompt.name))
    html = response.content.decode()
    assert response.status_code == 400 and f"messages[0].content[1].asset: {UNKNOWN_ASSET}" in html
    assert f"/api/assets/{theirs.pk}/content/" not in html  # no preview of another workspace's file
