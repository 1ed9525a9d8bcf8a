"""The exports pages in Chromium: the snippet page works when reached through a boosted link, and the
prompt picker's fields sit on one line."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from prompts import services
from prompts.tests.factories import text_document

pytestmark = pytest.mark.browser


def test_snippet_copy_button_works_after_boosted_navigation(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    prompt = services.prompt_create(
        workspace=team.workspace, user=team.editor, name="Greeter", content=text_document("Say hello in French.")
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, team.viewer, team.password)

    # Through the sidebar and the exports page's link, both boosted: the document is never reloaded.
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Exports").click()
    page.wait_for_url(f"**{reverse('exports:index')}")
    page.evaluate("window.sameDocument = true")
    page.get_by_role("region", name="Use a prompt in code").get_by_role("link", name="Greeter").click()
    page.wait_for_url(f"**{reverse('exports:snippet', args=[prompt.pk])}")
    expect(page.get_by_role("heading", name="Code for Greeter v1")).to_be_visible()
    assert page.evaluate("window.sameDocument === true"), "the snippet page was loaded in full, not boosted"

    code = page.locator(".snippet-pre code")
    expect(code).to_contain_text("Say hello in French.")
    # exports.js came in with the swapped body: htmx runs it when the swap settles, and it loads a moment later
    page.wait_for_function("() => window.studioExportsLoaded === true")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("Copied the code to the clipboard.")
    shot(page, "exports-snippet-copied-after-boost")
    assert page.evaluate("navigator.clipboard.readText()") == code.text_content()
    assert not page.console_errors, page.console_errors


def test_prompt_picker_fields_line_up(transactional_db: Any, team: Any, page: Any, login: Any, shot: Any) -> None:
    services.prompt_create(workspace=team.workspace, user=team.editor, name="Greeter", content=text_document("Hi."))
    login(page, team.viewer, team.password)
    page.goto(reverse("exports:index"))
    picker = page.get_by_role("region", name="Prompts")
    expect(picker.get_by_label("Versions")).to_be_visible()
    picker.scroll_into_view_if_needed()
    shot(page, "exports-prompt-picker")

    boxes = {
        name: (
            picker.locator(f"label[for={control}]").bounding_box(),
            picker.locator(f"#{control}").bounding_box(),
        )
        for name, control in {
            "Prompt": "prompt-id",
            "Versions": "prompt-version",
            "Format": "prompt-format",
            "Media": "prompt-media",
        }.items()
    }
    label_tops = {name: round(label["y"]) for name, (label, _) in boxes.items()}
    control_tops = {name: round(control["y"]) for name, (_, control) in boxes.items()}
    assert len(set(label_tops.values())) == 1, f"labels out of line: {label_tops}"
    assert len(set(control_tops.values())) == 1, f"fields out of line: {control_tops}"
    button = picker.get_by_role("button", name="Download").bounding_box()
    assert abs(button["y"] - boxes["Prompt"][1]["y"]) <= 1, "the Download button sits off the fields' line"
    # The help text stays under its own field.
    help_box = picker.locator("#prompt-version-help").bounding_box()
    versions = boxes["Versions"][1]
    assert help_box["y"] >= versions["y"] + versions["height"]
    assert help_box["x"] + help_box["width"] <= boxes["Format"][1]["x"]
