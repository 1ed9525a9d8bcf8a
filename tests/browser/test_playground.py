"""Done when 2 (issue 4): the playground runs two targets on the fake provider server in Chromium;
both outputs stream in (partial text is seen while the cards say "streaming"), then each card shows
tokens, cost and latency.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from prompts.services import prompt_create
from providers.catalog import load_default_models
from providers.fake_server import FakeProvider
from providers.models import ModelInfo, Run, RunSource, RunStatus
from providers.tests import conftest as provider_fixtures
from providers.tests.conftest import TEST_KEY, add_credential

pytestmark = pytest.mark.browser

# The fake provider server fixtures of the providers app (a real local HTTP server).
fake_provider = provider_fixtures.fake_provider
providers_on_fake = provider_fixtures.providers_on_fake

CONTENT = {
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "You are a concise travel guide."}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Plan a slow weekend in {{ city }} with one museum, one long walk, one market "
                    "breakfast and a quiet dinner somewhere locals actually go on a Sunday evening.",
                }
            ],
        },
    ],
    "variables": [{"name": "city", "type": "text", "default": "Lisbon"}],
    "model": {"provider": "openai", "name": "gpt-4o", "max_tokens": 200},
}


@pytest.fixture(autouse=True)
def catalog(transactional_db: Any) -> None:
    """The shipped model catalog (transactional tests flush what the data migration loaded)."""
    load_default_models(ModelInfo)


CARD_STATES = """() => Array.from(document.querySelectorAll('[data-card]')).map(card => ({
  state: card.getAttribute('data-state'),
  length: card.querySelector('[data-card-output]').textContent.length,
}))"""


def test_two_targets_stream_side_by_side_then_show_cost_and_latency(
    transactional_db: Any, team: Any, providers_on_fake: FakeProvider, page: Any, login: Any, shot: Any
) -> None:
    providers_on_fake.chunk_delay_ms = 70  # about 2 s of streaming per answer
    add_credential(team.workspace, "openai")
    add_credential(team.workspace, "anthropic")
    prompt = prompt_create(workspace=team.workspace, user=team.owner, name="Weekend planner", content=CONTENT)

    login(page, team.editor, team.password)
    page.goto("/")
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Playground").click()
    # The sidebar link is boosted: htmx swaps the page in, then wires its new elements a moment later
    # (the settle step); a change before that is lost. The playground marks itself ready after it.
    expect(page.locator("[data-playground][data-ready]")).to_be_attached()
    expect(page.get_by_role("heading", name="Playground", exact=True)).to_be_visible()

    # Pick the prompt: the source card swaps in with its variables.
    page.get_by_role("combobox", name="Prompt", exact=True).select_option(label="Weekend planner")
    expect(page.locator('[data-variable="city"] input')).to_have_value("Lisbon")
    assert f"prompt={prompt.pk}" in page.url
    page.locator('[data-variable="city"] input').fill("Porto")

    # Two targets on the fake server: OpenAI and Anthropic.
    targets = page.locator("[data-target]")
    targets.nth(0).get_by_label("Model").select_option("openai:gpt-4o")
    page.get_by_role("button", name="Add target").click()
    expect(targets).to_have_count(2)
    targets.nth(1).get_by_label("Model").select_option("anthropic:claude-haiku-4-5")
    expect(targets.nth(0).locator("[data-estimate]")).to_contain_text("Estimate: ~")
    expect(targets.nth(1).locator("[data-estimate]")).to_contain_text("Estimate: ~")
    shot(page, "playground-1-ready")

    page.keyboard.press("Control+Enter")  # the page's shortcut runs

    # Both cards stream: partial text while the status still says "streaming".
    cards = page.locator("[data-card]")
    expect(cards).to_have_count(2)
    partial: dict[int, int] = {}
    for _ in range(400):
        for index, card in enumerate(page.evaluate(CARD_STATES)):
            if card["state"] == "streaming" and card["length"] > 0:
                partial.setdefault(index, card["length"])
        if len(partial) == 2:
            break
        page.wait_for_timeout(20)
    assert set(partial) == {0, 1}, f"no partial output seen: {page.evaluate(CARD_STATES)}"
    expect(cards.nth(0).locator("[data-card-status]")).to_have_text("streaming")
    page.locator(".pg-results").scroll_into_view_if_needed()
    shot(page, "playground-2-streaming")

    for index in range(2):
        card = cards.nth(index)
        expect(card.locator("[data-card-status]")).to_have_text("done", timeout=15_000)
        output = card.locator("[data-card-output]").text_content() or ""
        assert "Porto" in output and len(output) > partial[index]
        expect(card.locator('[data-metric="cost"]')).to_have_text(re.compile(r"^(\$\d|<\$)"))
        expect(card.locator('[data-metric="latency_ms"]')).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
        expect(card.locator('[data-metric="ttft_ms"]')).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
        expect(card.locator('[data-metric="input_tokens"]')).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(page.locator("[data-run-summary]")).to_have_text("2 of 2 finished.")
    expect(page.get_by_role("button", name="Re-run")).to_be_visible()
    page.locator(".pg-results").scroll_into_view_if_needed()
    shot(page, "playground-3-done")

    runs = list(Run.objects.filter(source=RunSource.PLAYGROUND).order_by("provider"))
    assert [(r.provider, r.status) for r in runs] == [("anthropic", RunStatus.OK), ("openai", RunStatus.OK)]
    assert all(r.cost > 0 and r.prompt_version is not None for r in runs)
    assert TEST_KEY not in page.content()
    assert page.console_errors == []


def test_viewer_sees_the_playground_read_only(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    login(page, team.viewer, team.password)
    page.goto("/providers/playground/")
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    expect(page.locator("#pg-viewer-note")).to_contain_text("editor role")
    expect(page.locator("[data-target] [data-estimate]").first).to_be_visible()
    shot(page, "playground-viewer")
    assert page.console_errors == []


def test_echo_draft_run_error_card_and_copy(
    transactional_db: Any, team: Any, providers_on_fake: FakeProvider, page: Any, login: Any, shot: Any
) -> None:
    """No prompt, no key for echo: a blank draft runs on echo; a 429 from the fake server shows in its card."""
    add_credential(team.workspace, "openai", key="sk-other-" + "x" * 20)
    login(page, team.editor, team.password)
    page.goto("/providers/playground/")
    page.get_by_label("User").fill("Say hello to {{ name }}.")
    expect(page.locator('[data-variable="name"]')).to_be_visible()
    page.locator('[data-variable="name"] input').fill("Ada")
    targets = page.locator("[data-target]")
    targets.nth(0).get_by_label("Model").select_option("echo:echo")
    page.get_by_role("button", name="Add target").click()
    targets.nth(1).get_by_label("Model").select_option("openai:gpt-4o-mini")
    providers_on_fake.fail_next(429, times=5)
    page.locator("button[data-run]").click()

    cards = page.locator("[data-card]")
    expect(cards.nth(0).locator("[data-card-status]")).to_have_text("done")
    expect(cards.nth(0).locator("[data-card-output]")).to_contain_text("Say hello to Ada.")
    expect(cards.nth(0).locator('[data-metric="cost"]')).to_have_text("$0")
    expect(cards.nth(1).locator("[data-card-status]")).to_have_text("error")
    expect(cards.nth(1).locator("[data-card-error]")).to_be_visible()
    assert (cards.nth(1).locator("[data-card-error]").text_content() or "").strip()
    expect(page.locator("[data-run-summary]")).to_have_text("1 of 2 finished · 1 failed.")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    cards.nth(0).get_by_role("button", name="Copy output").click()
    expect(page.locator(".toast").last).to_contain_text("copied")
    page.locator(".pg-results").scroll_into_view_if_needed()
    shot(page, "playground-4-error")
    assert page.console_errors == []


def test_admin_adds_tests_and_deletes_a_key_and_sees_the_catalog(
    transactional_db: Any, team: Any, providers_on_fake: FakeProvider, page: Any, login: Any, shot: Any
) -> None:
    key = "sk-browser-SECRET-key-7f3c"
    login(page, team.admin, team.password)
    page.goto("/accounts/settings/")
    page.get_by_role("link", name="Provider keys").click()
    expect(page.get_by_role("heading", name="Provider keys", exact=True)).to_be_visible()
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Label").fill("team budget")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Add key").click()
    expect(page.locator(".toast")).to_contain_text("Added the OpenAI key")
    row = page.locator("tbody tr", has_text="team budget")
    expect(row).to_contain_text("…7f3c")
    assert key not in page.content()

    row.get_by_role("button", name="Test connection").click()
    expect(row.locator(".credential-test")).to_contain_text("Connected to OpenAI")
    shot(page, "provider-keys")

    row.get_by_role("button", name="Delete").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.locator("#confirm-ok").click()
    expect(page.locator(".toast").last).to_contain_text("Deleted the OpenAI key")
    expect(page.get_by_text("No provider keys yet")).to_be_visible()

    page.get_by_role("link", name="Model catalog").first.click()
    expect(page.get_by_role("heading", name="Model catalog", exact=True)).to_be_visible()
    expect(page.locator(".page-subtitle")).to_contain_text("prices read on")
    expect(page.get_by_role("row", name=re.compile("Mistral Small")).locator(".badge-staging")).to_have_text(
        "unverified"
    )
    shot(page, "model-catalog")
    assert page.console_errors == []


def test_a_workspace_at_its_call_cap_is_told_why_the_run_did_not_start(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any, settings: Any
) -> None:
    from providers.quota import workspace_slot

    settings.WORKSPACE_MAX_CONCURRENT_CALLS = 1
    login(page, team.editor, team.password)
    page.goto("/providers/playground/")
    page.get_by_label("User").fill("Say hello.")
    page.locator("[data-target]").nth(0).get_by_label("Model").select_option("echo:echo")
    with workspace_slot(team.workspace.pk):  # another call of this workspace is in flight
        page.locator("button[data-run]").click()
        message = page.locator("[data-run-error]")
        expect(message).to_be_visible()
        expect(message).to_contain_text("already has 1 provider call in flight (the limit is 1); try again")
        message.scroll_into_view_if_needed()
        shot(page, "playground-call-cap")
    assert not Run.objects.exists()
    page.locator("button[data-run]").click()
    expect(page.locator("[data-card] [data-card-status]")).to_have_text("done")
    expect(page.locator("[data-run-error]")).to_be_hidden()
    # The refused request is the only console error (Chromium logs the 429 response).
    assert all("429" in text for text in page.console_errors)
