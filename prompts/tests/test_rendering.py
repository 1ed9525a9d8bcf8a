from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompts.content import validate_content
from prompts.rendering import RenderError, render

ASSET = "0b6f4c8e-2a55-4b8e-9a57-1d5a0f6b2c11"


def document(**extra: Any) -> dict[str, Any]:
    return validate_content(
        {
            "messages": [
                {"role": "system", "content": "You are {{persona}}."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Describe {{ subject }} in {{count}} words. Data: {{data}}"},
                        {"type": "image", "variable": "photo", "detail": "low"},
                        {"type": "audio", "url": "https://example.com/a.mp3"},
                    ],
                },
            ],
            "variables": [
                {"name": "subject", "default": "a cat"},
                {"name": "count", "type": "number"},
                {"name": "data", "type": "json", "default": {"a": [1, 2]}},
                {"name": "photo", "type": "image"},
            ],
            "model": {"provider": "echo", "name": "echo-1", "temperature": 0.5},
            **extra,
        },
        workspace_id=None,
    )


def test_render_substitutes_text_and_media() -> None:
    out = render(document(), {"persona": "a critic", "count": 12.0, "photo": ASSET})
    assert out["model"] == {"provider": "echo", "name": "echo-1", "temperature": 0.5}
    assert out["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "You are a critic."}]}
    user = out["messages"][1]["content"]
    assert user[0]["text"] == 'Describe a cat in 12 words. Data: {"a": [1, 2]}'
    assert user[1] == {"type": "image", "asset": ASSET, "detail": "low"}
    assert user[2] == {"type": "audio", "url": "https://example.com/a.mp3"}


def test_media_values_accept_urls_and_objects() -> None:
    base = {"persona": "x", "count": "3"}
    assert render(document(), {**base, "photo": {"url": "https://e.x/p.png"}})["messages"][1]["content"][1] == {
        "type": "image",
        "url": "https://e.x/p.png",
        "detail": "low",
    }
    assert render(document(), {**base, "photo": {"asset": ASSET}})["messages"][1]["content"][1]["asset"] == ASSET
    with pytest.raises(RenderError, match="Variable photo must be an asset id"):
        render(document(), {**base, "photo": "file:///etc/passwd"})


def test_missing_and_unknown_variables_are_named_in_one_message() -> None:
    with pytest.raises(RenderError) as info:
        render(document(), {"count": 1, "colour": "red"})
    assert str(info.value) == "Missing variables: photo, persona. Unknown variable: colour."
    assert info.value.missing == ["photo", "persona"]
    assert info.value.unknown == ["colour"]
    with pytest.raises(RenderError) as info:
        render(validate_content({"messages": [{"role": "user", "content": "{{subject}}"}]}, workspace_id=None), {})
    assert str(info.value) == "Missing variable: subject."


def test_number_variable_rejects_non_numbers() -> None:
    with pytest.raises(RenderError, match=r"Variable count must be a number\."):
        render(document(), {"persona": "x", "count": "lots", "photo": ASSET})


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(st.dictionaries(names, st.text(max_size=30), min_size=1, max_size=5))
def test_every_placeholder_is_replaced_by_its_value(values: dict[str, str]) -> None:
    text = " | ".join("{{ " + name + " }}" for name in values)
    doc = validate_content({"messages": [{"role": "user", "content": text}]}, workspace_id=None)
    out = render(doc, values)
    assert out["messages"][0]["content"][0]["text"] == " | ".join(values.values())


@given(st.text(max_size=40))
def test_substituted_values_are_never_rendered_again(value: str) -> None:
    doc = validate_content(
        {"messages": [{"role": "user", "content": "[{{a}}]"}], "variables": [{"name": "b", "default": "B"}]},
        workspace_id=None,
    )
    injected = value + "{{ b }}"
    assert render(doc, {"a": injected})["messages"][0]["content"][0]["text"] == f"[{injected}]"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"), max_size=60))
def test_text_without_placeholders_is_unchanged_and_input_not_mutated(text: str) -> None:
    doc = validate_content({"messages": [{"role": "user", "content": text}]}, workspace_id=None)
    snapshot = repr(doc)
    assert render(doc, {})["messages"][0]["content"][0]["text"] == text
    assert repr(doc) == snapshot


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_numbers_render_as_plain_digits(number: int) -> None:
    doc = validate_content(
        {"messages": [{"role": "user", "content": "{{n}}"}], "variables": [{"name": "n", "type": "number"}]},
        workspace_id=None,
    )
    assert render(doc, {"n": number})["messages"][0]["content"][0]["text"] == str(number)
    assert render(doc, {"n": float(number)})["messages"][0]["content"][0]["text"] == str(number)
