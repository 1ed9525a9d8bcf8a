"""Version history, diff, restore, labels, and the prompt actions (duplicate, archive, delete)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from prompts import services
from prompts.models import Label, LabelMove, Prompt
from prompts.tests.factories import png_bytes, text_document
from prompts.views import DELETED, LABEL_MOVED, NEED_TWO_VERSIONS, RESTORED

pytestmark = pytest.mark.django_db

HISTORY_FRAGMENT = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "history"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def prompt(team: Any) -> Prompt:
    prompt = services.prompt_create(
        workspace=team.workspace,
        user=team.editor,
        name="Greeter",
        content=text_document("Say hello to {{ name }} politely"),
        message="First",
    )
    services.version_create(
        prompt=prompt, user=team.editor, content=text_document("Say hi to {{ name }} warmly"), message="Warmer"
    )
    return prompt


def url(name: str, prompt: Prompt, *args: Any) -> str:
    return reverse(f"prompts:{name}", args=[prompt.pk, *args])


# --- history ---------------------------------------------------------------------------------------


def test_history_lists_versions_labels_and_label_moves(team: Any, prompt: Prompt) -> None:
    services.label_set(prompt=prompt, name="production", version=1, user=team.admin)
    services.label_set(prompt=prompt, name="production", version=2, user=team.admin)
    response = browser(team.viewer).get(url("history", prompt))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "First" in html and "Warmer" in html and team.editor.name in html
    assert url("version", prompt, 1) in html and url("version", prompt, 2) in html
    assert 'class="badge badge-production"' in html
    assert "v1 → v2" in html and "→ v1" in html and team.admin.name in html
    assert f"name={prompt.slug}&amp;label=production" in html
    # A viewer sees everything but no write controls.
    assert url("label-set", prompt) not in html and url("restore", prompt, 1) not in html


def test_history_offers_compare_and_restore_to_editors(team: Any, prompt: Prompt) -> None:
    html = browser(team.editor).get(url("history", prompt)).content.decode()
    assert url("diff", prompt) in html
    assert 'name="from" value="1" form="compare-form" aria-label="Compare from version 1" checked' in html
    assert 'name="to" value="2" form="compare-form" aria-label="Compare to version 2" checked' in html
    assert url("restore", prompt, 1) in html and url("restore", prompt, 2) not in html  # not the latest
    assert "new version 3" in html  # the confirmation says what happens


def test_history_fragment_vs_full_page(team: Any, prompt: Prompt) -> None:
    client = browser(team.viewer)
    fragment = client.get(url("history", prompt), **HISTORY_FRAGMENT).content.decode()
    assert fragment.lstrip().startswith('<div id="history"') and "<html" not in fragment
    assert "<html" in client.get(url("history", prompt)).content.decode()


def test_history_of_a_prompt_without_versions_says_so(team: Any) -> None:
    empty = services.prompt_create(workspace=team.workspace, user=team.editor, name="Empty")
    html = browser(team.viewer).get(url("history", empty)).content.decode()
    assert "No versions yet" in html


# --- labels ----------------------------------------------------------------------------------------


def test_editor_moves_a_label_and_the_move_is_recorded(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    response = client.post(url("label-set", prompt), {"label": "Production", "version": 2}, **HISTORY_FRAGMENT)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="history"')
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast == {"message": LABEL_MOVED.format(label="production", number=2), "level": "success"}
    assert Label.objects.get(prompt=prompt, name="production").version.number == 2
    move = LabelMove.objects.get(prompt=prompt)
    assert (move.from_version, move.to_version.number, move.actor) == (None, 2, team.editor)


def test_label_set_without_htmx_redirects_back_to_history(team: Any, prompt: Prompt) -> None:
    response = browser(team.editor).post(url("label-set", prompt), {"label": "staging", "version": 1})
    assert response.status_code == 302 and response["Location"] == url("history", prompt)
    assert Label.objects.get(prompt=prompt, name="staging").version.number == 1


def test_bad_label_name_or_version_is_refused_with_a_clear_toast(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    response = client.post(url("label-set", prompt), {"label": "no spaces!", "version": 1}, **HISTORY_FRAGMENT)
    assert json.loads(response["HX-Trigger"])["toast"]["level"] == "error"
    assert "lowercase letters" in json.loads(response["HX-Trigger"])["toast"]["message"]
    response = client.post(url("label-set", prompt), {"label": "production", "version": 9}, **HISTORY_FRAGMENT)
    assert "no version 9" in json.loads(response["HX-Trigger"])["toast"]["message"]
    assert not Label.objects.exists()


def test_editor_removes_a_label(team: Any, prompt: Prompt) -> None:
    services.label_set(prompt=prompt, name="staging", version=1, user=team.editor)
    response = browser(team.editor).post(url("label-remove", prompt, "staging"), **HISTORY_FRAGMENT)
    assert response.status_code == 200 and "Removed the label staging" in response["HX-Trigger"]
    assert not Label.objects.filter(prompt=prompt).exists()
    assert LabelMove.objects.filter(prompt=prompt, to_version=None).count() == 1


def test_viewer_cannot_move_or_remove_labels(team: Any, prompt: Prompt) -> None:
    services.label_set(prompt=prompt, name="production", version=1, user=team.editor)
    client = browser(team.viewer)
    assert client.post(url("label-set", prompt), {"label": "production", "version": 2}).status_code == 403
    assert client.post(url("label-remove", prompt, "production")).status_code == 403
    assert Label.objects.get(prompt=prompt, name="production").version.number == 1


# --- restore ---------------------------------------------------------------------------------------


def test_restore_saves_the_old_content_as_a_new_version(team: Any, prompt: Prompt) -> None:
    services.label_set(prompt=prompt, name="production", version=2, user=team.editor)
    client = browser(team.editor)
    response = client.post(url("restore", prompt, 1))
    assert response.status_code == 302 and response["Location"] == url("history", prompt)
    v3 = prompt.versions.get(number=3)
    assert v3.content == prompt.versions.get(number=1).content and v3.message == "Restore version 1"
    assert Label.objects.get(prompt=prompt, name="production").version.number == 2  # labels stay
    assert RESTORED.format(old=1, new=3) in client.get(url("history", prompt)).content.decode()


def test_viewer_cannot_restore_and_missing_version_is_404(team: Any, prompt: Prompt) -> None:
    assert browser(team.viewer).post(url("restore", prompt, 1)).status_code == 403
    assert browser(team.editor).post(url("restore", prompt, 7)).status_code == 404
    assert prompt.versions.count() == 2


# --- diff ------------------------------------------------------------------------------------------


def test_diff_shows_text_changes_side_by_side(team: Any, prompt: Prompt) -> None:
    response = browser(team.viewer).get(url("diff", prompt), {"from": 1, "to": 2})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "<del>hello</del>" in html and "<ins>hi</ins>" in html
    assert "<del>politely</del>" in html and "<ins>warmly</ins>" in html
    assert "Version 1" in html and "Version 2" in html


def test_diff_defaults_to_the_last_two_versions_and_can_go_backwards(team: Any, prompt: Prompt) -> None:
    client = browser(team.viewer)
    html = client.get(url("diff", prompt)).content.decode()
    assert "<ins>hi</ins>" in html
    html = client.get(url("diff", prompt), {"from": 2, "to": 1}).content.decode()
    assert "<ins>hello</ins>" in html and "<del>hi</del>" in html


def test_diff_shows_media_changes_as_thumbnails(team: Any, prompt: Prompt) -> None:
    red, _ = services.asset_create(
        workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("red.png", png_bytes(color=(255, 0, 0)))
    )
    blue, _ = services.asset_create(
        workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("blue.png", png_bytes(color=(0, 0, 255)))
    )
    for asset in (red, blue):
        content = text_document("Look")
        content["messages"][0]["content"].append({"type": "image", "asset": str(asset.pk)})
        services.version_create(prompt=prompt, user=team.editor, content=content)
    html = browser(team.viewer).get(url("diff", prompt), {"from": 3, "to": 4}).content.decode()
    assert f"/api/assets/{red.pk}/content/" in html and f"/api/assets/{blue.pk}/content/" in html
    assert "diff-part-changed" in html and "red.png" in html and "blue.png" in html


def test_diff_fragment_and_errors(team: Any, prompt: Prompt) -> None:
    client = browser(team.viewer)
    fragment = client.get(url("diff", prompt), {"from": 1, "to": 2}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="diff")
    assert fragment.content.decode().lstrip().startswith('<div id="diff"')
    assert client.get(url("diff", prompt), {"from": 1, "to": 99}).status_code == 404
    single = services.prompt_create(workspace=team.workspace, user=team.editor, name="One", content=text_document())
    assert NEED_TWO_VERSIONS in client.get(url("diff", single)).content.decode()


# --- duplicate, archive, delete ------------------------------------------------------------------------


def test_duplicate_copies_the_latest_version_and_opens_the_copy(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    response = client.post(url("duplicate", prompt))
    copy = Prompt.objects.exclude(pk=prompt.pk).get()
    assert response.status_code == 302 and response["Location"] == url("detail", copy)
    assert copy.name == "Copy of Greeter" and copy.versions.get().content == prompt.versions.get(number=2).content
    assert "Duplicated" in client.get(url("detail", copy)).content.decode()


def test_archive_and_unarchive(team: Any, prompt: Prompt) -> None:
    client = browser(team.editor)
    client.post(url("archive", prompt), {"archived": "1"})
    prompt.refresh_from_db()
    assert prompt.archived
    html = client.get(url("detail", prompt)).content.decode()
    assert "Archived" in html and "Unarchive" in html
    client.post(url("archive", prompt), {"archived": "0"})
    prompt.refresh_from_db()
    assert not prompt.archived


def test_only_admins_delete_and_the_prompt_is_gone(team: Any, prompt: Prompt) -> None:
    assert browser(team.editor).post(url("delete", prompt)).status_code == 403
    assert Prompt.objects.filter(pk=prompt.pk).exists()
    client = browser(team.admin)
    response = client.post(url("delete", prompt))
    assert response.status_code == 302 and response["Location"] == reverse("prompts:list")
    assert not Prompt.objects.filter(pk=prompt.pk).exists()
    assert DELETED.format(name="Greeter", count=2, plural="s") in client.get(reverse("prompts:list")).content.decode()


def test_viewer_cannot_duplicate_or_archive(team: Any, prompt: Prompt) -> None:
    client = browser(team.viewer)
    assert client.post(url("duplicate", prompt)).status_code == 403
    assert client.post(url("archive", prompt), {"archived": "1"}).status_code == 403
    assert Prompt.objects.count() == 1 and not Prompt.objects.get().archived


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "history", []),
        ("get", "diff", []),
        ("post", "restore", [1]),
        ("post", "label-set", []),
        ("post", "label-remove", ["production"]),
        ("post", "duplicate", []),
        ("post", "archive", []),
        ("post", "delete", []),
    ],
)
def test_outsider_gets_404_for_another_workspaces_prompt(
    team: Any, prompt: Prompt, method: str, name: str, args: list[Any]
) -> None:
    services.label_set(prompt=prompt, name="production", version=1, user=team.editor)
    response = getattr(browser(team.outsider), method)(url(name, prompt, *args), {"label": "x", "version": 1})
    assert response.status_code == 404
    assert Prompt.objects.filter(pk=prompt.pk, archived=False).exists() and prompt.versions.count() == 2


def test_pages_refuse_the_wrong_method(team: Any, prompt: Prompt) -> None:
    client = browser(team.admin)
    assert client.get(url("delete", prompt)).status_code == 405
    assert client.get(url("restore", prompt, 1)).status_code == 405
