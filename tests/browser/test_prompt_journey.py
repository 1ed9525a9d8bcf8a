"""Done when 1 (issue 3): the whole prompt journey in Chromium, then the resolve API agrees with the labels.

Create a prompt with a system message, a user text with two variables and an uploaded image; save v1;
change the text; save v2; open the diff; label v2 production; restore v1 as v3; resolve by label and
by number (with the browser's session and with a JWT).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from prompts.models import Prompt

pytestmark = pytest.mark.browser

SYSTEM = "You are a careful analyst of business charts."
USER_V1 = "This is a {{ chart_kind }} chart. Answer the question: {{ question }}"
USER_V2 = "This is a {{ chart_kind }} chart. Answer in one short sentence: {{ question }}"


def chart_png(path: Path) -> Path:
    """A small bar chart drawn with Pillow."""
    image = Image.new("RGB", (240, 160), "white")
    draw = ImageDraw.Draw(image)
    for i, height in enumerate([40, 90, 65, 120]):
        draw.rectangle([20 + i * 55, 150 - height, 55 + i * 55, 150], fill=(79, 70, 229))
    draw.line([10, 150, 230, 150], fill="black", width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def user_message(page: Any) -> Any:
    return page.locator("[data-message]").nth(1)


def test_prompt_journey_create_version_diff_label_restore_then_resolve(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any, tmp_path: Path, api: Any
) -> None:
    login(page, team.editor, team.password)

    # --- create: a system message, a user text with two variables and an uploaded image ---------------
    page.goto("/prompts/")
    page.get_by_role("link", name="New prompt").first.click()
    expect(page.get_by_role("heading", name="New prompt")).to_be_visible()
    # a boosted visit: the editor's script came in with the page and loads a moment after it
    page.wait_for_function("() => window.PromptEditor !== undefined")
    page.get_by_label("Name", exact=True).fill("Chart question answering")
    page.get_by_label("Tags").fill("vision, charts")

    first = page.locator("[data-message]").first
    first.locator('[data-field="role"]').select_option("system")
    first.locator('[data-field="text"]').fill(SYSTEM)

    page.get_by_role("button", name="User", exact=True).click()
    user = user_message(page)
    user.locator('[data-field="text"]').fill(USER_V1)
    user.get_by_role("button", name="Image").click()
    image_part = user.locator('[data-part][data-type="image"]')
    image_part.locator("[data-file]").set_input_files(str(chart_png(tmp_path / "chart.png")))
    expect(image_part.locator(".asset-preview img")).to_be_visible()
    expect(page.locator("[data-variable]")).to_have_count(2)
    expect(page.locator('[data-variable][data-name="chart_kind"]')).to_be_visible()
    expect(page.locator('[data-variable][data-name="question"]')).to_be_visible()
    page.locator('[data-variable][data-name="chart_kind"] [data-field="default"]').fill("bar")
    page.get_by_label("Provider").select_option("echo")
    page.get_by_label("Temperature").fill("0.2")
    expect(page.locator("[data-dirty-status]")).to_have_text("Unsaved changes")
    page.get_by_label("Commit message").fill("First draft")
    shot(page, "journey-1-new-prompt")

    page.keyboard.press("Control+s")  # the editor's shortcut saves
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    expect(page.locator(".toast")).to_contain_text("version 1")
    prompt = Prompt.objects.get(workspace=team.workspace, name="Chart question answering")
    assert prompt.versions.count() == 1
    expect(page.locator(".asset-preview img")).to_be_visible()
    shot(page, "journey-2-saved-v1")

    # --- change the text and save v2 ----------------------------------------------------------------
    user_message(page).locator('[data-field="text"]').fill(USER_V2)
    page.get_by_label("Commit message").fill("Ask for a short answer")
    page.get_by_role("button", name=re.compile("Save version")).click()
    expect(page.locator(".toast")).to_contain_text("version 2")
    assert prompt.versions.count() == 2

    # --- history and the diff -----------------------------------------------------------------------
    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_role("heading", name="Version history")).to_be_visible()
    shot(page, "journey-3-history")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare versions")).to_be_visible()
    expect(page.locator(".diff-new ins", has_text="one short sentence")).to_be_visible()
    expect(page.locator(".diff-old del", has_text="question")).to_be_visible()
    expect(page.locator(".diff-part-changed")).to_have_count(1)  # only the user text changed
    shot(page, "journey-4-diff")

    # --- label v2 production ------------------------------------------------------------------------
    page.get_by_role("link", name="History").first.click()
    page.get_by_label("Label for version 2").fill("production")
    page.locator('tr[data-version="2"]').get_by_role("button", name="Set label").click()
    expect(page.locator(".toast").last).to_contain_text("production now points at version 2")
    expect(page.locator('tr[data-version="2"] .badge-production')).to_be_visible()

    # --- restore v1 as v3 (with the confirmation modal) ---------------------------------------------
    page.locator('tr[data-version="1"]').get_by_role("button", name="Restore").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("new version 3")
    dialog.get_by_role("button", name="Restore").click()
    expect(page.locator(".toast").last).to_contain_text("Restored version 1 as version 3")
    expect(page.locator('tr[data-version="3"]')).to_contain_text("Restore version 1")
    shot(page, "journey-5-restored")
    assert not page.console_errors, page.console_errors

    # --- the resolve API returns what the labels say ------------------------------------------------
    prompt.refresh_from_db()
    base = f"/api/prompts/resolve/?workspace={team.workspace.pk}&name={prompt.slug}"

    def texts(body: dict[str, Any]) -> list[str]:
        return [p["text"] for m in body["content"]["messages"] for p in m["content"] if p["type"] == "text"]

    production = page.request.get(f"{base}&label=production")  # the browser's session
    assert production.status == 200
    assert production.json()["number"] == 2
    assert texts(production.json()) == [SYSTEM, USER_V2]

    client = api(team.viewer)  # a JWT, as a script or CI job would call it
    v3 = client.get(f"{base}&version=3")
    assert v3.status_code == 200
    assert v3.json()["number"] == 3 and v3.json()["message"] == "Restore version 1"
    assert texts(v3.json()) == [SYSTEM, USER_V1]
    assert v3.json()["content"] == client.get(f"{base}&version=1").json()["content"]
    image = [p for p in v3.json()["content"]["messages"][1]["content"] if p["type"] == "image"]
    assert len(image) == 1 and image[0]["asset"]
    assert {v["name"] for v in v3.json()["variables"]} == {"chart_kind", "question"}
    assert client.get(f"{base}&label=production").json()["number"] == 2
