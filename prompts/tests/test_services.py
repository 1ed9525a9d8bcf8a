from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from prompts import services
from prompts.content import ContentError
from prompts.diff import content_diff
from prompts.models import Prompt, PromptVersion
from prompts.selectors import prompt_list, prompt_resolve
from prompts.services import clean_tags, label_set, prompt_create, prompt_update, version_create, version_restore

pytestmark = pytest.mark.django_db


def doc(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_versions_number_up_and_identical_content_makes_none(team: Any) -> None:
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name="P")
    v1, created1 = version_create(prompt=prompt, user=team.editor, content=doc("a"))
    v1_again, created_again = version_create(
        prompt=prompt,
        user=team.editor,
        content={"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]},
    )
    v2, _ = version_create(prompt=prompt, user=team.editor, content=doc("b"))
    assert (v1.number, created1, created_again, v1_again.pk, v2.number) == (1, True, False, v1.pk, 2)
    restored, created = version_restore(prompt=prompt, number=1, user=team.editor)
    assert (restored.number, created, restored.message) == (3, True, "Restore version 1")
    same, created = version_restore(prompt=prompt, number=1, user=team.editor)
    assert (same.number, created) == (3, False)


def test_invalid_content_saves_nothing(team: Any) -> None:
    with pytest.raises(ContentError):
        prompt_create(
            workspace=team.workspace, user=team.editor, name="P", content=doc("x") | {"variables": [{"name": "9"}]}
        )
    assert not Prompt.objects.exists() and not PromptVersion.objects.exists()


def test_slug_rules(team: Any) -> None:
    a = prompt_create(workspace=team.workspace, user=None, name="Ünïcode Name!")
    assert a.slug == "unicode-name"
    b = prompt_create(workspace=team.workspace, user=None, name="x", slug="custom_slug")
    with pytest.raises(ValidationError) as info:
        prompt_update(prompt=b, slug=a.slug)
    assert info.value.message_dict == {"slug": [services.SLUG_TAKEN]}
    with pytest.raises(ValidationError):
        prompt_create(workspace=team.workspace, user=None, name="y", slug="Bad Slug")
    other = prompt_create(workspace=team.other_workspace, user=None, name="Ünïcode Name")
    assert other.slug == "unicode-name"  # unique per workspace only


def test_tags_are_cleaned() -> None:
    assert clean_tags([" Vision ", "vision", "", "OCR  data"]) == ["vision", "ocr data"]
    assert clean_tags("a, b") == ["a", "b"]
    with pytest.raises(ValidationError):
        clean_tags(["<script>"])
    with pytest.raises(ValidationError):
        clean_tags([str(i) for i in range(21)])


def test_label_set_refuses_other_prompts_version_and_bad_names(team: Any) -> None:
    p1 = prompt_create(workspace=team.workspace, user=None, name="one", content=doc("a"))
    p2 = prompt_create(workspace=team.workspace, user=None, name="two", content=doc("b"))
    with pytest.raises(ValidationError):
        label_set(prompt=p1, name="production", version=p2.versions.get(), user=None)
    with pytest.raises(ValidationError):
        label_set(prompt=p1, name="-bad", version=1, user=None)
    label_set(prompt=p1, name="canary-1", version=1, user=None)
    assert prompt_resolve(workspace_id=team.workspace.pk, slug="one", label="canary-1").number == 1


def test_prompt_list_annotates_latest_version(team: Any) -> None:
    prompt = prompt_create(workspace=team.workspace, user=None, name="P", content=doc("a"))
    version_create(prompt=prompt, user=None, content=doc("b"))
    prompt_create(workspace=team.workspace, user=None, name="Empty")
    rows = {p.name: p.latest_version for p in prompt_list(user=team.viewer, workspace_id=team.workspace.pk)}
    assert rows == {"P": 2, "Empty": None}
    assert list(prompt_list(user=team.outsider)) == []


def test_diff_aligns_messages_and_reports_media_and_settings() -> None:
    asset_a, asset_b = "0b6f4c8e-2a55-4b8e-9a57-1d5a0f6b2c11", "1b6f4c8e-2a55-4b8e-9a57-1d5a0f6b2c11"
    old = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "keep"}, {"type": "image", "asset": asset_a, "detail": "auto"}],
            },
        ],
        "variables": [{"name": "x", "type": "text"}],
        "model": {"temperature": 0.1, "name": "m"},
    }
    new = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "new system"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "keep"}, {"type": "image", "asset": asset_b, "detail": "auto"}],
            },
        ],
        "variables": [{"name": "y", "type": "text"}],
        "model": {"temperature": 0.7, "name": "m", "top_p": 0.9},
    }
    diff = content_diff(old, new)
    assert [m["status"] for m in diff["messages"]] == ["added", "changed"]
    parts = diff["messages"][1]["parts"]
    assert [p["status"] for p in parts] == ["unchanged", "changed"]
    assert parts[1]["old_source"]["asset"] == asset_a and parts[1]["new_source"]["asset"] == asset_b
    assert diff["variables"]["added"] == [{"name": "y", "type": "text"}]
    assert diff["variables"]["removed"] == [{"name": "x", "type": "text"}]
    assert diff["model"] == {
        "added": {"top_p": 0.9},
        "removed": {},
        "changed": {"temperature": {"old": 0.1, "new": 0.7}},
    }
    assert content_diff(old, old)["changed"] is False
