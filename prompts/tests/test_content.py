from __future__ import annotations

from typing import Any

import pytest

from prompts import content as c
from prompts.content import ContentError, content_hash, extract_variables, validate_content
from prompts.tests.factories import AssetFactory, text_document


def error_of(document: Any, workspace_id: int | None = None) -> str:
    with pytest.raises(ContentError) as info:
        validate_content(document, workspace_id=workspace_id)
    return str(info.value)


def test_valid_document_is_normalised_and_variables_detected() -> None:
    doc = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are {{persona}}."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture of {{ subject }}? {{persona}}"},
                    {"type": "image", "url": "https://example.com/a.png"},
                    {"type": "image", "variable": "photo", "detail": "high"},
                ],
            },
        ],
        "variables": [{"name": "photo", "type": "image"}, {"name": "subject", "default": "a cat"}],
        "model": {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 512},
    }
    out = validate_content(doc, workspace_id=None)
    assert [v["name"] for v in out["variables"]] == ["photo", "subject", "persona"]
    assert out["variables"][2] == {"name": "persona", "type": "text"}
    assert out["variables"][1] == {"name": "subject", "type": "text", "default": "a cat"}
    assert out["messages"][1]["content"][1] == {"type": "image", "url": "https://example.com/a.png", "detail": "auto"}
    assert out["model"]["temperature"] == 0.2
    assert extract_variables(out) == ["persona", "subject", "photo"]
    # normalising twice changes nothing, so the hash is stable
    assert content_hash(validate_content(out, workspace_id=None)) == content_hash(out)


def test_plain_string_content_is_one_text_part() -> None:
    out = validate_content({"messages": [{"role": "user", "content": "hi"}]}, workspace_id=None)
    assert out["messages"][0]["content"] == [{"type": "text", "text": "hi"}]
    assert out["model"] == {} and out["variables"] == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"messages": [{"role": "robot", "content": []}]}, f"messages[0].role: {c.UNKNOWN_ROLE}"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a"}, {"type": "video", "url": "https://x.y"}],
                    }
                ]
            },
            f"messages[0].content[1].type: {c.UNKNOWN_PART_TYPE}",
        ),
        ({"messages": []}, f"messages: {c.NO_MESSAGES}"),
        ({}, f"messages: {c.REQUIRED}"),
        ({"messages": "x"}, f"messages: {c.NOT_A_LIST}"),
        ({"messages": [{"role": "user", "content": [{"type": "image"}]}]}, f"messages[0].content[0]: {c.ONE_SOURCE}"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "url": "https://a.b/c", "asset": "x"}]}]},
            f"messages[0].content[0]: {c.ONE_SOURCE}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "url": "javascript:alert(1)"}]}]},
            f"messages[0].content[0].url: {c.BAD_URL}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "url": "https://a.b/c", "detail": "max"}]}]},
            f"messages[0].content[0].detail: {c.BAD_DETAIL}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "audio", "url": "https://a.b/c", "detail": "low"}]}]},
            f"messages[0].content[0].detail: {c.UNKNOWN_FIELD}",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
                "variables": [{"name": "1bad"}],
            },
            f"variables[0].name: {c.BAD_VARIABLE_NAME}",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "variables": [{"name": "a"}, {"name": "a"}]},
            f"variables[1].name: {c.DUPLICATE_VARIABLE}",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "variables": [{"name": "a", "type": "video"}]},
            f"variables[0].type: {c.BAD_VARIABLE_TYPE}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "variable": "photo"}]}]},
            "messages[0].content[0].variable: " + c.UNDECLARED_MEDIA_VARIABLE.format(kind="image"),
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"type": "audio", "variable": "photo"}]}],
                "variables": [{"name": "photo", "type": "image"}],
            },
            "messages[0].content[0].variable: variable photo is of type image, not audio",
        ),
        (
            {"messages": [{"role": "user", "content": "Hi {{ user.name }}"}]},
            "messages[0].content[0].text: {{ user.name }} is not a variable name; template logic is not supported",
        ),
        (
            {
                "messages": [{"role": "user", "content": "{{ photo }}"}],
                "variables": [{"name": "photo", "type": "image"}],
            },
            "messages[0].content[0].text: {{ photo }} is an image variable; use it as an image part, not in text",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "model": {"temperature": 7}},
            "model.temperature: must be a number from 0 to 2",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "model": {"max_tokens": "many"}},
            "model.max_tokens: must be a whole number from 1 to 1000000",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "extra": 1}, f"extra: {c.UNKNOWN_FIELD}"),
        (
            {"messages": [{"role": "user", "content": "x"}] * (c.MAX_MESSAGES + 1)},
            f"messages: {c.TOO_MANY_MESSAGES}",
        ),
        (
            {"messages": [{"role": "user", "content": "x" * (c.MAX_TEXT_LENGTH + 1)}]},
            f"messages[0].content[0].text: {c.TEXT_TOO_LONG}",
        ),
    ],
)
def test_malformed_content_names_the_path(document: Any, expected: str) -> None:
    assert error_of(document) == expected


@pytest.mark.django_db
def test_asset_must_belong_to_the_same_workspace() -> None:
    mine = AssetFactory()
    theirs = AssetFactory()
    doc = {
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "image", "asset": str(mine.pk)},
                    {"type": "image", "asset": str(theirs.pk)},
                ],
            },
        ]
    }
    assert error_of(doc, mine.workspace_id) == "messages[1].content[2].asset: unknown asset"
    doc["messages"][1]["content"].pop()
    out = validate_content(doc, workspace_id=mine.workspace_id)
    assert out["messages"][1]["content"][1]["asset"] == str(mine.pk)
    # without a workspace no asset can be resolved
    assert error_of(doc, None) == "messages[1].content[1].asset: unknown asset"


@pytest.mark.django_db
def test_asset_kind_must_match_part_type_and_defaults_are_checked() -> None:
    image = AssetFactory()
    doc = {"messages": [{"role": "user", "content": [{"type": "audio", "asset": str(image.pk)}]}]}
    assert error_of(doc, image.workspace_id) == "messages[0].content[0].asset: the asset is an image file, not audio"
    other = AssetFactory()
    doc = {
        "messages": [{"role": "user", "content": [{"type": "image", "variable": "pic"}]}],
        "variables": [{"name": "pic", "type": "image", "default": str(other.pk)}],
    }
    assert error_of(doc, image.workspace_id) == "variables[0].default: unknown asset"
    doc["variables"][0]["default"] = str(image.pk)
    out = validate_content(doc, workspace_id=image.workspace_id)
    assert out["variables"][0]["default"] == {"asset": str(image.pk)}


def test_content_hash_ignores_key_order() -> None:
    a = text_document(model={"name": "m", "provider": "p"})
    b = {"model": {"provider": "p", "name": "m"}, "messages": a["messages"]}
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(text_document("other"))
    assert len(content_hash(a)) == 64


def test_literal_braces_that_are_not_names_stay_text() -> None:
    out = validate_content(
        {"messages": [{"role": "user", "content": 'JSON like {{"a": 1}} is fine'}]}, workspace_id=None
    )
    assert out["variables"] == []
