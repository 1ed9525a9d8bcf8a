"""The prompt pages' behaviour in Chromium: search as you type, editor errors that keep what was typed,
message reordering, variables detected as you type, the unsaved-changes guard, and read-only viewers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from prompts import services
from prompts.models import Prompt
from prompts.tests.factories import text_document

pytestmark = pytest.mark.browser


def make(team: Any, name: str, **extra: Any) -> Prompt:
    return services.prompt_create(
        workspace=team.workspace, user=team.editor, name=name, content=text_document(f"{name} {{{{ x }}}}"), **extra
    )


def test_list_search_as_you_type_keeps_the_filter_in_the_url(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    make(team, "Invoice reader", tags=["finance"], description="Turns invoices into JSON")
    make(team, "Chart helper", tags=["vision"])
    shipped = make(team, "Receipt checker", tags=["finance", "vision"])
    services.label_set(prompt=shipped, name="production", version=1, user=team.editor)
    login(page, team.editor, team.password)

    page.goto("/prompts/")
    expect(page.locator(".prompt-table tbody tr")).to_have_count(3)
    shot(page, "prompts-list")
    page.get_by_label("Search prompts").press_sequentially("invo", delay=40)
    page.wait_for_url(re.compile(r"q=invo"))
    expect(page.locator(".prompt-table tbody tr")).to_have_count(1)
    expect(page.locator(".prompt-table")).to_contain_text("Invoice reader")

    page.get_by_label("Search prompts").fill("")
    page.get_by_label("Search prompts").press("Enter")
    page.locator("select[name=label]").select_option("production")
    page.wait_for_url(re.compile(r"label=production"))
    expect(page.locator(".prompt-table tbody tr")).to_have_count(1)
    expect(page.locator(".prompt-table .badge-production")).to_be_visible()

    page.reload()  # the URL alone restores the filtered list
    expect(page.locator(".prompt-table tbody tr")).to_have_count(1)
    expect(page.locator("select[name=label]")).to_have_value("production")
    assert not page.console_errors, page.console_errors


def test_empty_list_explains_prompts(transactional_db: Any, team: Any, page: Any, login: Any, shot: Any) -> None:
    login(page, team.editor, team.password)
    page.goto("/prompts/")
    expect(page.get_by_role("heading", name="Write your first prompt")).to_be_visible()
    shot(page, "prompts-empty")
    page.locator(".empty").get_by_role("link", name="New prompt").click()
    expect(page.get_by_role("heading", name="New prompt")).to_be_visible()


def test_editor_errors_keep_what_was_typed_and_sit_next_to_the_part(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    login(page, team.editor, team.password)
    page.goto("/prompts/new/")
    page.get_by_label("Name", exact=True).fill("Greeter")
    first = page.locator("[data-message]").first
    first.locator('[data-field="text"]').fill("Hello {{ who }}, meet {{ whom }}")
    expect(page.locator("[data-variable]")).to_have_count(2)
    first.locator('[data-field="text"]').fill("Hello {{ who }}")
    expect(page.locator("[data-variable]")).to_have_count(1)  # an untouched variable goes when unused

    # Add an assistant message, move it above, then remove it again.
    page.get_by_role("button", name="Assistant", exact=True).click()
    messages = page.locator("[data-message]")
    expect(messages).to_have_count(2)
    messages.nth(1).get_by_role("button", name="Move message up").click()
    expect(messages.first.locator('[data-field="role"]')).to_have_value("assistant")
    messages.first.get_by_role("button", name="Remove message").click()
    expect(messages).to_have_count(1)

    # An image part with no file: the server refuses and names the part; nothing typed is lost.
    first.get_by_role("button", name="Image").click()
    page.get_by_role("button", name="Create prompt").click()
    error = page.locator('[data-part][data-type="image"] .field-error')
    expect(error).to_contain_text("messages[0].content[1]: give exactly one of asset, url or variable")
    expect(page.locator(".toast-error")).to_contain_text("Not saved")
    expect(page.locator('[data-message] [data-field="text"]').first).to_have_value("Hello {{ who }}")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Greeter")
    expect(page.locator('[data-variable][data-name="who"]')).to_be_visible()
    expect(page.locator("[data-dirty-status]")).to_have_text("Unsaved changes")
    shot(page, "editor-error")
    assert not Prompt.objects.exists()

    # Fix it: the image comes from a URL instead.
    image = page.locator('[data-part][data-type="image"]')
    image.locator('[data-field="source"]').select_option("url")
    image.get_by_label("Image URL").fill("https://example.com/cat.png")
    page.get_by_role("button", name="Create prompt").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    version = Prompt.objects.get().versions.get()
    assert version.content["messages"][0]["content"][1] == {
        "type": "image",
        "url": "https://example.com/cat.png",
        "detail": "auto",
    }
    assert version.content["variables"] == [{"name": "who", "type": "text"}]


def test_leaving_with_unsaved_changes_asks_first(transactional_db: Any, team: Any, page: Any, login: Any) -> None:
    prompt = make(team, "Careful")
    login(page, team.editor, team.password)
    page.goto(f"/prompts/{prompt.pk}/")
    expect(page.locator("[data-dirty-status]")).to_have_text("No unsaved changes")
    page.locator('[data-field="text"]').first.fill("Changed but not saved")
    expect(page.locator("[data-dirty-status]")).to_have_text("Unsaved changes")
    page.locator(".sidebar").get_by_role("link", name="Prompts").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Leave without saving?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/prompts/{prompt.pk}/$"))
    expect(page.locator('[data-field="text"]').first).to_have_value("Changed but not saved")
    page.locator(".sidebar").get_by_role("link", name="Prompts").click()
    dialog.get_by_role("button", name="Leave without saving").click()
    expect(page).to_have_url(re.compile(r"/prompts/$"))


def test_viewer_sees_the_editor_read_only(transactional_db: Any, team: Any, page: Any, login: Any, shot: Any) -> None:
    prompt = make(team, "Look but don't touch")
    login(page, team.viewer, team.password)
    page.goto(f"/prompts/{prompt.pk}/")
    expect(page.locator('[data-field="text"]').first).to_be_disabled()
    expect(page.get_by_role("button", name=re.compile("Save version"))).to_have_count(0)
    expect(page.get_by_text("You're a viewer in this workspace")).to_be_visible()
    shot(page, "editor-viewer")
    assert not page.console_errors, page.console_errors


DROP_FILE = """([selector, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const zone = document.querySelector(selector);
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { bubbles: true, cancelable: true, dataTransfer: data }));
  }
}"""


def test_media_by_drag_and_drop_and_picker_with_previews(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any, tmp_path: Any
) -> None:
    import base64

    from prompts.tests.media import pdf_bytes, wav_bytes

    login(page, team.editor, team.password)
    page.goto("/prompts/new/")
    page.get_by_label("Name", exact=True).fill("Media")
    message = page.locator("[data-message]").first
    message.get_by_role("button", name="Image").click()

    # A 3-page PDF dropped onto the image part: the part becomes a PDF part showing its page count.
    payload = base64.b64encode(pdf_bytes(pages=3)).decode()
    page.evaluate(
        DROP_FILE, ['[data-part][data-type="image"] [data-dropzone]', "report.pdf", "application/pdf", payload]
    )
    pdf = message.locator('[data-part][data-type="document"]')
    expect(pdf.locator(".pdf-icon")).to_be_visible()
    expect(pdf).to_contain_text("3 pages")
    expect(message.locator('[data-part][data-type="image"]')).to_have_count(0)

    # Audio through the file picker: an audio player.
    message.get_by_role("button", name="Audio").click()
    wav = tmp_path / "hello.wav"
    wav.write_bytes(wav_bytes(seconds=1.0))
    audio = message.locator('[data-part][data-type="audio"]')
    audio.locator("[data-file]").set_input_files(str(wav))
    expect(audio.locator("audio[controls]")).to_be_visible()
    expect(audio).to_contain_text("1.0 s")

    # A bad file is refused next to the part; nothing is set.
    audio2 = message.get_by_role("button", name="Audio")
    audio2.click()
    bad = tmp_path / "fake.mp3"
    bad.write_bytes(b"<html><script>alert(1)</script></html>")
    second = message.locator('[data-part][data-type="audio"]').nth(1)
    second.locator("[data-file]").set_input_files(str(bad))
    expect(second.locator("[data-upload-status]")).to_have_class(re.compile("is-error"))
    expect(second.locator('[data-field="asset"]')).to_have_value("")
    second.get_by_role("button", name="Remove part").click()
    shot(page, "editor-media")

    page.get_by_role("button", name="Create prompt").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    parts = Prompt.objects.get(name="Media").versions.get().content["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "document", "audio"]
    expect(page.locator(".pdf-icon")).to_be_visible()
    expect(page.locator("audio[controls]")).to_be_visible()
