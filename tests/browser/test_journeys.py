"""End-to-end journeys in Chromium (issue 8), each through the pages only, as a person would click them.

* A new user signs up, adds an OpenAI-compatible key (the fake provider server, allowed by the outbound
  policy override), adds the server's model, writes a multimodal prompt with an uploaded image, tries it
  in the playground, imports a dataset and runs an A/B test on a real Celery worker, reads the results,
  opens analytics and downloads the workspace archive (a valid ZIP with the prompt and the image).
* A workspace admin adds a member, changes the member's role and reads both in the audit log.

Screenshots: /tmp/shots/journey-newuser-*.png and /tmp/shots/journey-admin-*.png.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from abtests.models import ABTest, Trial, TrialStatus
from abtests.models import TestStatus as Status
from accounts.models import Membership, Role, User
from accounts.tests.factories import UserFactory
from audit.models import AuditEvent
from prompts.models import Prompt
from providers.catalog import load_default_models
from providers.fake_server import FakeProvider
from providers.models import ModelInfo, ProviderCredential, Run, RunSource, RunStatus
from providers.tests import conftest as provider_fixtures
from studio.testing import start_worker
from tests.browser.test_prompt_journey import chart_png

pytestmark = [pytest.mark.browser, pytest.mark.worker]

fake_provider = provider_fixtures.fake_provider
providers_on_fake = provider_fixtures.providers_on_fake

EMAIL = "newcomer@journey.test"
PASSWORD = "a-long-journey-passphrase-42"
MODEL_ID = "fake-vision-1"
KEY = "sk-journey-FAKE-0000-tail"
USER_TEXT = "Describe this chart of {{ topic }} in one sentence."
TOPICS = ["rainfall", "sales", "traffic", "tides"]


@pytest.fixture(autouse=True)
def catalog(transactional_db: Any) -> None:
    load_default_models(ModelInfo)


def test_new_user_signs_up_writes_a_multimodal_prompt_runs_it_tests_it_and_exports_it(
    transactional_db: Any, providers_on_fake: FakeProvider, page: Any, shot: Any, tmp_path: Path
) -> None:
    fake = providers_on_fake
    fake.chunk_delay_ms = 20

    # 1. Sign up: a personal workspace is made at once.
    page.goto(reverse("accounts:signup"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Your name").fill("Nora Newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    shot(page, "journey-newuser-01-signup")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda url: "/accounts/signup/" not in url)
    user = User.objects.get(email=EMAIL)
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER

    # 2. A provider key: an OpenAI-compatible server at the fake server's base URL, then its model.
    page.goto(reverse("accounts:settings"))
    page.get_by_role("link", name="Provider keys").click()
    page.wait_for_url(f"**{reverse('providers:credentials')}")
    add_key = page.locator("#add-key")
    add_key.get_by_label("Provider").select_option("openai_compatible")
    add_key.get_by_label("Label").fill("local gateway")
    add_key.get_by_label("API key").fill(KEY)
    add_key.get_by_label("Base URL").fill(fake.base_url("openai_compatible"))
    add_key.get_by_role("button", name="Add key").click()
    expect(page.get_by_role("cell", name="local gateway")).to_be_visible()
    assert KEY not in page.content() and "tail" in page.content()  # only the last 4 characters
    shot(page, "journey-newuser-02-key", full_page=True)
    credential = ProviderCredential.objects.get(workspace=membership.workspace)
    assert credential.provider == "openai_compatible"

    page.goto(reverse("providers:models"))
    page.get_by_label("Model id").fill(MODEL_ID)
    page.get_by_label("Display name").fill("Fake vision")
    page.locator("#add-model").get_by_label("image").check()
    page.get_by_role("button", name="Add model").click()
    expect(page.get_by_text(MODEL_ID).first).to_be_visible()

    # 3. A multimodal prompt: a user text with a variable and an uploaded image.
    page.goto(reverse("prompts:new"))
    page.get_by_label("Name", exact=True).fill("Chart describer")
    user_message = page.locator("[data-message]").first  # a new prompt starts with one user message
    expect(user_message.locator('[data-field="role"]')).to_have_value("user")
    user_message.locator('[data-field="text"]').fill(USER_TEXT)
    user_message.get_by_role("button", name="Image").click()
    image_part = user_message.locator('[data-part][data-type="image"]')
    image_part.locator("[data-file]").set_input_files(str(chart_png(tmp_path / "chart.png")))
    expect(image_part.locator(".asset-preview img")).to_be_visible()
    page.locator('[data-variable][data-name="topic"] [data-field="default"]').fill("rainfall")
    page.get_by_label("Provider").select_option("openai_compatible")
    page.get_by_label("Model name").fill(MODEL_ID)
    page.get_by_label("Commit message").fill("First version")
    shot(page, "journey-newuser-03-prompt", full_page=True)
    page.keyboard.press("Control+s")
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    expect(page.locator(".toast")).to_contain_text("version 1")
    prompt = Prompt.objects.get(workspace=membership.workspace, name="Chart describer")

    # 4. Try it in the playground: the answer streams back from the fake server, image included.
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Playground").click()
    # The sidebar link is boosted: htmx swaps the page in, then wires its new elements a moment later
    # (the settle step); a change before that is lost. The playground marks itself ready after it.
    expect(page.locator("[data-playground][data-ready]")).to_be_attached()
    page.get_by_role("combobox", name="Prompt", exact=True).select_option(label="Chart describer")
    expect(page.locator('[data-variable="topic"] input')).to_have_value("rainfall")
    page.locator("[data-target]").first.get_by_label("Model").select_option(f"openai_compatible:{MODEL_ID}")
    page.get_by_role("button", name="Run", exact=True).click()
    card = page.locator("[data-card]").first
    expect(card.locator("[data-card-status]")).to_have_text("done", timeout=15_000)
    expect(card.locator("[data-card-output]")).to_contain_text("rainfall")
    expect(card.locator("[data-card-output]")).to_contain_text("image/png")
    page.locator(".pg-results").scroll_into_view_if_needed()
    shot(page, "journey-newuser-04-playground")
    run = Run.objects.get(source=RunSource.PLAYGROUND)
    assert run.status == RunStatus.OK and run.prompt_id == prompt.pk and run.credential_id == credential.pk

    # 5. An A/B test over an imported dataset: the fake-server model against echo, on a real worker.
    page.goto(reverse("abtests:dataset-import"))
    csv_path = tmp_path / "topics.csv"
    csv_path.write_text("topic\n" + "".join(f"{t}\n" for t in TOPICS))
    page.get_by_label("File").set_input_files(str(csv_path))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name=f"Import {len(TOPICS)} rows").click()
    expect(page.get_by_role("heading", name="topics", exact=True)).to_be_visible()
    page.get_by_role("link", name="New A/B test").click()
    page.get_by_label("Name", exact=True).fill("Vision model or echo?")
    page.locator("#v0-name").fill("Fake vision")
    page.locator("#v0-source").select_option(label="Chart describer · v1 (latest)")
    page.locator("#v0-target").select_option(f"openai_compatible|{MODEL_ID}")
    page.locator("#v1-name").fill("Echo")
    page.locator("#v1-source").select_option(label="Chart describer · v1 (latest)")
    page.locator("#v1-target").select_option("echo|echo")
    page.locator("#new-evaluator").select_option("contains")
    page.get_by_role("button", name="Add evaluator").click()
    page.locator("#e0-value").fill("Echo:")  # the fake server answers "Echo: ...", the echo provider "[user] ..."
    expect(page.get_by_text(f"{2 * len(TOPICS)} calls")).to_be_visible()
    page.locator(".ab-savebar").get_by_role("button", name="Save draft and review").click()
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    test = ABTest.objects.get(name="Vision model or echo?")
    worker_env = {"OUTBOUND_ALLOW_HOSTS": "127.0.0.1", "PROVIDER_TIMEOUT_SECONDS": "10"}
    with start_worker(concurrency=2, extra_env=worker_env) as worker:
        page.get_by_role("button", name="Start test").click()
        try:
            expect(page.locator(".ab-progress-line")).to_contain_text("100%", timeout=45_000)
        except AssertionError:
            raise AssertionError(worker.log()[-5000:]) from None
        expect(page.get_by_role("link", name="See results")).to_be_visible(timeout=15_000)
        test.refresh_from_db()
        assert test.status == Status.COMPLETED, worker.log()[-3000:]
    assert Trial.objects.filter(test=test, status=TrialStatus.OK).count() == 2 * len(TOPICS)

    # 6. Read the results: the fake-server model passes every row, echo none: it is named the winner.
    page.get_by_role("link", name="See results").click()
    expect(page.get_by_role("heading", name="Per variant")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^(Winner: |No significant winner)"))).to_be_visible()
    shot(page, "journey-newuser-05-results", full_page=True)
    assert Trial.objects.filter(test=test, variant__name="Fake vision", passed=True).count() == len(TOPICS)
    assert not Trial.objects.filter(test=test, variant__name="Echo", passed=True).exists()

    # 7. Analytics counts every call: the playground run and the test's cells.
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    calls = Run.objects.filter(workspace=membership.workspace).count()
    assert calls == 1 + 2 * len(TOPICS)
    expect(page.locator('[data-kpi="calls"]')).to_have_text(str(calls))
    shot(page, "journey-newuser-06-analytics")

    # 8. Export: the whole workspace as a ZIP with the prompt and its image.
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Exports").click()
    page.wait_for_url(f"**{reverse('exports:index')}")
    # The page's own stylesheet arrives with boosted navigation too (it lives in the page's <head>).
    page.wait_for_function(
        "() => Array.from(document.styleSheets).some(s => (s.href || '').endsWith('/exports/exports.css'))"
    )
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download archive").click()
    archive_path = Path(download_info.value.path())
    shot(page, "journey-newuser-07-exports")
    with zipfile.ZipFile(io.BytesIO(archive_path.read_bytes())) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        prompts = json.loads(archive.read(manifest["contents"]["prompts"]))
    assert manifest["counts"]["prompts"] == 1 and manifest["counts"]["abtests"] == 1, manifest["counts"]
    assert [p["name"] for p in prompts] == ["Chart describer"]
    assert any(name.startswith("assets/") for name in names)
    assert KEY not in archive_path.read_bytes().decode("latin-1")
    assert not [e for e in page.console_errors if "Content Security Policy" in e or "Refused" in e], page.console_errors


def test_admin_adds_a_member_changes_the_role_and_reads_the_audit_log(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any
) -> None:
    newcomer = UserFactory(email="sam@journey.test", display_name="Sam Newman")
    login(page, team.admin, team.password)

    # 1. Add an existing account as a viewer.
    page.goto(reverse("accounts:settings"))
    invite = page.locator(".invite-form")
    invite.get_by_label("Email address").fill(newcomer.email)
    invite.get_by_label("Role").select_option("viewer")
    invite.get_by_role("button", name="Add member").click()
    role_select = page.get_by_label(f"Role of {newcomer.name}")
    expect(role_select).to_have_value("viewer")
    membership = Membership.objects.get(workspace=team.workspace, user=newcomer)
    assert membership.role == Role.VIEWER
    shot(page, "journey-admin-01-member-added", full_page=True)

    # 2. Change the role: the select saves on change.
    role_select.select_option("editor")
    expect(page.get_by_label(f"Role of {newcomer.name}")).to_have_value("editor")
    page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=5_000)  # the swap has settled
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
    shot(page, "journey-admin-02-role-changed", full_page=True)

    # 3. The audit log shows both, with the admin as the actor; the filter narrows to role changes.
    audit_url = reverse("audit:log")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"**{audit_url}")
    table = page.locator("table")
    expect(table.get_by_text("Member added").first).to_be_visible()
    expect(table.get_by_text("Role changed").first).to_be_visible()
    expect(table).to_contain_text(newcomer.email)
    shot(page, "journey-admin-03-audit-log", full_page=True)
    page.get_by_label("Action").select_option("member.role_changed")
    expect(page.locator(".result-count")).to_contain_text("1 event matching the filters")
    expect(table).to_contain_text(team.admin.email)
    shot(page, "journey-admin-04-audit-filtered", full_page=True)
    events = AuditEvent.objects.filter(workspace=team.workspace, action__startswith="member.")
    assert sorted(events.values_list("action", flat=True)) == ["member.invited", "member.role_changed"]
    assert set(events.values_list("actor_id", flat=True)) == {team.admin.pk}
    assert not page.console_errors, page.console_errors
