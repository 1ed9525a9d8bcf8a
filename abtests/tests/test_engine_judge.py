"""LLM-as-judge in the run engine: the judge model is called through its SDK on the fake server with
the rubric (the row's values filled in), the output and the row's images; its score decides the check,
its Run is recorded and its cost counted. A judge that was never called records no Run."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from abtests import engine
from abtests.models import TestStatus as Status
from abtests.models import Trial, TrialStatus
from abtests.services import JUDGE_REFUSED, abtest_start, dataset_create
from abtests.services import TestError as Refused
from abtests.tests.factories import claim_first, make_test
from prompts.models import Asset
from providers.models import ModelInfo, ProviderCredential, Run
from providers.tests.conftest import add_credential
from providers.tests.helpers import make_asset
from providers.types import MediaPart, Message, TextPart

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalog")]

_numbers = itertools.count(1)
RUBRIC = "Grade how politely the answer treats {{question}}."
JUDGE = {"type": "llm-judge", "rubric": RUBRIC, "provider": "openai", "model": "gpt-4o-mini", "weight": 1}
TEXTS = ["Answer politely: {{question}} ({{marker}})", "Answer rudely: {{question}} ({{marker}})"]


def photo_test(team: Any, *, rows: int = 3, evaluators: list[dict[str, Any]] | None = None) -> Any:
    """Two gpt-4o-mini variants over rows that each carry a photo (an image asset of the workspace)."""
    photo = Asset.objects.filter(workspace=team.workspace, kind="image").first() or make_asset(team.workspace, "image")
    dataset = dataset_create(
        workspace=team.workspace,
        user=None,
        name=f"photos {next(_numbers)}",
        columns=[
            {"name": "question", "type": "text"},
            {"name": "marker", "type": "text"},
            {"name": "photo", "type": "image"},
        ],
        rows=[{"question": f"question {i}", "marker": f"r{i}", "photo": str(photo.pk)} for i in range(rows)],
    )
    credential = ProviderCredential.objects.filter(workspace=team.workspace, provider="openai").first()
    return make_test(
        team.workspace,
        provider="openai",
        model="gpt-4o-mini",
        credential=credential or add_credential(team.workspace, "openai"),
        dataset=dataset,
        texts=TEXTS,
        evaluators=evaluators if evaluators is not None else [{"type": "contains", "value": "question"}, JUDGE],
    )


def start(test: Any, capture: Any) -> None:
    with capture(execute=False):  # no Celery here: the chunk is run by hand
        abtest_start(test=test)


def judge_requests(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.body["messages"][0]["role"] == "system"]


def test_the_judge_grades_each_output_with_the_rubric_and_the_rows_image(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any, client: Any
) -> None:
    # the fake judge follows the rubric: the polite variant's answers get a 5, the rude one's a 2
    providers_on_fake.answer_when("The answer to grade:\nEcho: Answer politely", "Score: 5. Courteous throughout.")
    providers_on_fake.answer_when("The answer to grade:\nEcho: Answer rudely", "Score: 2 - curt and dismissive.")
    test = photo_test(team)
    start(test, django_capture_on_commit_callbacks)

    stats = engine.run_chunk(test.pk, list(Trial.objects.filter(test=test).values_list("id", flat=True)))

    test.refresh_from_db()
    assert test.status == Status.COMPLETED and stats["ok"] == 6
    trials = {(t.variant.name, t.row_index): t for t in Trial.objects.filter(test=test).select_related("variant")}
    for (variant, _row), trial in trials.items():
        assert trial.status == TrialStatus.OK
        contains, judged = trial.evaluation["checks"]
        assert contains["passed"] is True
        note = judged["judge"]
        assert note["score"] == (5.0 if variant == "A" else 2.0)
        assert judged["passed"] is (variant == "A")  # the pass score is 4
        assert judged["score"] == pytest.approx(1.0 if variant == "A" else 0.25)  # 1-5 mapped onto 0-1
        assert trial.passed is (variant == "A")
        judge_run = Run.objects.get(pk=note["run"])
        assert judge_run.model == "gpt-4o-mini" and judge_run.status == "ok" and judge_run.cost > 0
        assert Decimal(trial.evaluation["judge_cost"]) == judge_run.cost
        assert note["answer"].startswith("Score:")

    # what the judge was sent: the rubric with the row's question, the output to grade, the row's photo
    sent = judge_requests(providers_on_fake)
    assert len(sent) == 6 and providers_on_fake.request_count == 12
    rubrics = sorted(r.body["messages"][0]["content"] for r in sent)
    assert rubrics == sorted(2 * [RUBRIC.replace("{{question}}", f"question {i}") for i in range(3)])
    for request in sent:
        body = request.body
        assert body["model"] == "gpt-4o-mini" and body["max_completion_tokens"] == engine.JUDGE_MAX_TOKENS
        text, image = body["messages"][1]["content"]
        assert engine.JUDGE_INSTRUCTIONS in text["text"] and "The answer to grade:\nEcho: Answer" in text["text"]
        assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    # every call is a Run: 6 variant calls and 6 judge calls, and the test's spend includes the judges'
    runs = Run.objects.filter(source="abtest", workspace=team.workspace)
    assert runs.count() == 12
    assert test.cost_spent == sum(r.cost for r in runs)

    # the drill-down shows each judge's score and its reasons under the output it graded
    client.force_login(team.viewer)
    page = client.get(reverse("abtests:trials", args=[test.pk])).content.decode()
    assert "scored 5 of 5 (passes at 4)" in page and "scored 2 of 5 (passes at 4)" in page
    assert page.count("Courteous throughout.</blockquote>") == 3
    assert page.count("Score: 2 - curt and dismissive.</blockquote>") == 3


def test_a_judge_without_images_is_sent_none_and_an_unscored_answer_fails_the_check(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    providers_on_fake.answer_when("The answer to grade:", "I would rather not grade this.")
    test = photo_test(team, rows=1, evaluators=[{**JUDGE, "include_images": False}])
    start(test, django_capture_on_commit_callbacks)

    engine.run_chunk(test.pk, list(Trial.objects.filter(test=test).values_list("id", flat=True)))

    sent = judge_requests(providers_on_fake)
    assert len(sent) == 2
    for request in sent:  # one text part, which the SDK sends as a plain string
        assert request.body["messages"][1]["content"].startswith(engine.JUDGE_INSTRUCTIONS)
    for trial in Trial.objects.filter(test=test):
        (judged,) = trial.evaluation["checks"]
        assert judged["passed"] is False and judged["score"] == 0.0
        assert judged["detail"] == engine.JUDGE_NO_SCORE
        assert trial.passed is False and trial.status == TrialStatus.OK


def test_a_judge_that_was_never_called_records_no_run(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    test = photo_test(team, rows=1, evaluators=[JUDGE])
    start(test, django_capture_on_commit_callbacks)
    plan, trial, cell = claim_first(test)
    assert isinstance(cell, engine.Cell)
    outcome = asyncio.run(engine._call_closing(cell))
    # the judge waited for a slot of the workspace's call cap that never came free
    judge, call, _ = outcome.judges[0]
    text = "The judge was not called: the workspace had 64 provider calls in flight for 120 s."
    outcome.judges[0] = (judge, call, engine.JudgeNotCalled("rate_limit", text))

    assert engine.cell_finish(plan, cell, outcome) == "ok"

    trial.refresh_from_db()
    (judged,) = trial.evaluation["checks"]
    assert judged["judge"]["run"] is None and judged["passed"] is False
    assert judged["detail"] == engine.JUDGE_FAILED.format(error=text)
    assert trial.evaluation["judge_cost"] == "0"
    assert list(Run.objects.filter(source="abtest").values_list("pk", flat=True)) == [trial.run_id]


def test_a_judge_model_that_cannot_see_the_rows_images_is_refused_at_the_start(
    team: Any, django_capture_on_commit_callbacks: Any, providers_on_fake: Any
) -> None:
    # an operator's catalog entry for a text-only model
    ModelInfo.objects.create(
        provider="openai", model_id="text-only-1", display_name="Text only", input_modalities=["text"]
    )
    blind = {**JUDGE, "model": "text-only-1"}
    test = photo_test(team, rows=1, evaluators=[{"type": "contains", "value": "question"}, blind])
    with pytest.raises(Refused) as refused:
        start(test, django_capture_on_commit_callbacks)
    error = engine.JUDGE_NO_IMAGES.format(model="OpenAI model text-only-1")
    assert str(refused.value) == JUDGE_REFUSED.format(index=1, error=error)
    test.refresh_from_db()
    assert test.status == Status.DRAFT and not Trial.objects.filter(test=test).exists()
    assert providers_on_fake.request_count == 0

    # told not to send the images, the same judge is fine
    text_only = photo_test(team, rows=1, evaluators=[{**blind, "include_images": False}])
    start(text_only, django_capture_on_commit_callbacks)
    text_only.refresh_from_db()
    assert text_only.status == Status.QUEUED


def test_the_judge_is_sent_each_image_the_variant_saw_once() -> None:
    photo = MediaPart("image", "image/png", data=b"png", asset_id="a1")
    chart = MediaPart("image", url="https://example.com/chart.png")
    clip = MediaPart("audio", "audio/wav", data=b"wav", asset_id="a2")
    # the prompt shows the row's photo (the same asset) and a chart of its own; audio is not for the judge
    messages = [
        Message("user", (TextPart("Look"), MediaPart("image", "image/png", data=b"png", asset_id="a1"), chart, clip))
    ]
    assert engine._judge_images([photo], messages) == [photo, chart]
    assert engine._judge_images([], []) == []
