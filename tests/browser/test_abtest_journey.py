"""Done when 5 (issue 5): in Chromium, import a CSV dataset (preview, then confirm), build a two-variant
test on the echo provider, start it, watch the live progress reach 100 % (a real Celery worker runs the
cells), open the results, and open the blind pairwise review page, whose source never names a variant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from abtests.models import ABTest, Dataset, Review
from abtests.models import TestStatus as Status
from prompts.services import prompt_create
from providers.catalog import load_default_models
from providers.models import ModelInfo
from studio.testing import start_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ROWS = 12
CSV = "question,expected\n" + "".join(f"What is {i} plus {i}?,{2 * i}\n" for i in range(ROWS))
# Variant names that appear nowhere else (not in the prompts, the dataset or the outputs).
CONTROL = "Quokka-control"
CHALLENGER = "Pangolin-challenger"


def _prompt(workspace: Any, name: str, text: str) -> None:
    prompt_create(
        workspace=workspace,
        user=None,
        name=name,
        content={
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            "variables": [{"name": "question", "type": "text"}],
            "model": {"provider": "echo", "name": "echo"},
        },
    )


@pytest.fixture(autouse=True)
def catalog(transactional_db: Any) -> None:
    load_default_models(ModelInfo)


def test_import_build_run_results_and_blind_review(
    transactional_db: Any, team: Any, page: Any, login: Any, shot: Any, tmp_path: Path
) -> None:
    _prompt(team.workspace, "Terse maths", "Answer briefly: {{question}}")
    _prompt(team.workspace, "Careful maths", "Think step by step, then answer: {{question}}")
    login(page, team.editor, team.password)

    # 1. Import a CSV: the preview shows the detected columns and rows; nothing is saved before confirming.
    page.goto("/datasets/")
    shot(page, "abtest-01-datasets-empty")
    page.get_by_role("link", name="Import a file").click()
    csv_path = tmp_path / "sums.csv"
    csv_path.write_text(CSV)
    page.get_by_label("File").set_input_files(str(csv_path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: sums.csv")).to_be_visible()
    expect(page.get_by_text("What is 3 plus 3?")).to_be_visible()
    assert not Dataset.objects.exists()
    shot(page, "abtest-02-import-preview", full_page=True)
    page.get_by_role("button", name=f"Import {ROWS} rows").click()
    expect(page.get_by_role("heading", name="sums", exact=True)).to_be_visible()
    dataset = Dataset.objects.get(name="sums")
    assert dataset.rows.count() == ROWS and dataset.column_types() == {"question": "text", "expected": "number"}
    shot(page, "abtest-03-dataset-detail")

    # 2. Build a two-variant test from the dataset page.
    page.get_by_role("link", name="New A/B test").click()
    expect(page.get_by_role("heading", name="New A/B test")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Terse or careful?")
    expect(page.get_by_label("Dataset")).to_have_value(str(dataset.pk))
    page.locator("#v0-name").fill(CONTROL)
    page.locator("#v0-source").select_option(label="Terse maths · v1 (latest)")
    page.locator("#v0-target").select_option("echo|echo")
    page.locator("#v1-name").fill(CHALLENGER)
    page.locator("#v1-source").select_option(label="Careful maths · v1 (latest)")
    page.locator("#v1-target").select_option("echo|echo")
    page.locator("#new-evaluator").select_option("contains")
    page.get_by_role("button", name="Add evaluator").click()
    page.locator("#e0-value").fill("step by step")
    page.locator("#t-concurrency").fill("1")
    expect(page.get_by_text(f"{2 * ROWS} calls")).to_be_visible()
    shot(page, "abtest-04-builder", full_page=True)
    page.locator(".ab-savebar").get_by_role("button", name="Save draft and review").click()

    # 3. The draft shows the calls and the estimated cost before starting.
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    expect(page.get_by_text("estimated cost")).to_be_visible()
    test = ABTest.objects.get(name="Terse or careful?")
    assert test.status == Status.DRAFT and test.variants.count() == 2
    shot(page, "abtest-05-draft-estimate", full_page=True)

    # 4. Start: a real worker runs the cells; the progress card polls until 100 %.
    with start_worker(concurrency=1) as worker:
        page.get_by_role("button", name="Start test").click()
        expect(page.locator("#test-progress")).to_be_visible()
        shot(page, "abtest-06-progress")
        expect(page.locator(".ab-progress-line")).to_contain_text("100%", timeout=60_000)
        expect(page.get_by_role("link", name="See results")).to_be_visible(timeout=15_000)
        test.refresh_from_db()
        assert test.status == Status.COMPLETED, worker.log()[-3000:]
    expect(page.locator(".ab-progress-line")).to_contain_text(f"{2 * ROWS} of {2 * ROWS} calls finished")
    shot(page, "abtest-07-finished")

    # 5. Results: per-variant table and the verdict.
    page.get_by_role("link", name="See results").click()
    expect(page.get_by_role("heading", name="Per variant")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^(Winner: |No significant winner)"))).to_be_visible()
    assert CONTROL in page.content() and CHALLENGER in page.content()
    shot(page, "abtest-08-results", full_page=True)
    page.get_by_role("link", name="Compare outputs row by row (failures first)").click()
    expect(page.locator(".ab-drill-row").first).to_be_visible()
    shot(page, "abtest-09-rows")

    # 6. Blind pairwise review: the variant names are nowhere in the page source.
    page.get_by_role("link", name="Blind review").click()
    expect(page.get_by_role("heading", name="Which output is better?")).to_be_visible()
    html = page.content()
    assert CONTROL not in html and CHALLENGER not in html
    assert "Quokka" not in page.url and "Pangolin" not in page.url
    shot(page, "abtest-10-pairwise", full_page=True)
    page.get_by_role("button", name="B is better").click()
    expect(page.get_by_text("You've judged 1 pair of this test.")).to_be_visible()
    assert Review.objects.filter(test=test, choice="b").count() == 1
    html = page.content()
    assert CONTROL not in html and CHALLENGER not in html
    assert not [e for e in page.console_errors if "Content Security Policy" in e or "Refused" in e]
