"""A/B test pages: list, builder (validation keeps input), draft estimate, start/cancel, live progress
fragment, results, drill-down, and the blind review pages (no variant names in the page)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from abtests import engine
from abtests.models import ABTest, Review, Trial, TrialStatus
from abtests.models import TestStatus as Status
from abtests.services import abtest_start
from abtests.tests.factories import make_dataset, make_test, make_version

pytestmark = pytest.mark.django_db

LIST = reverse("abtests:list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fragment(target: str) -> dict[str, str]:
    return {**HTMX, "HTTP_HX_TARGET": target}


def finished(team: Any, capture: Any, **kw: Any) -> ABTest:
    test = make_test(team.workspace, **kw)
    with capture(execute=False):
        abtest_start(test=test)
    engine.run_cells_sync(test.pk)
    test.refresh_from_db()
    return test


def builder_post(team: Any, dataset: Any, **extra: Any) -> dict[str, Any]:
    a = make_version(team.workspace, "Answer {{question}} ({{marker}})", name="short answer")
    b = make_version(team.workspace, "Answer {{question}} in detail ({{marker}})", name="long answer")
    data = {
        "action": "save",
        "name": "Short vs long",
        "dataset": str(dataset.pk),
        "repetitions": "2",
        "pass_threshold": "1",
        "concurrency": "4",
        "cost_cap": "",
        "control": "0",
        "variant_count": "2",
        "v0-name": "Short",
        "v0-source": f"version:{a.pk}",
        "v0-target": "echo|echo",
        "v0-temperature": "0.2",
        "v0-max_tokens": "",
        "v1-name": "Long",
        "v1-source": f"version:{b.pk}",
        "v1-target": "echo|echo",
        "v1-temperature": "",
        "v1-max_tokens": "200",
        "evaluator_count": "1",
        "e0-type": "contains",
        "e0-value": "question",
        "e0-weight": "1",
        "e0-name": "",
    }
    data.update(extra)
    return data


# --- list -------------------------------------------------------------------------------------------


def test_empty_list_explains_what_a_test_is(team: Any) -> None:
    html = browser(team.editor).get(LIST).content.decode()
    assert "Find out whether your new prompt is really better" in html and reverse("abtests:new") in html


def test_list_shows_status_progress_and_outcome(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    done = finished(team, django_capture_on_commit_callbacks, rows=3, name="Done test")
    make_test(team.workspace, name="Draft test")
    make_test(team.other_workspace, name="Their test")
    html = browser(team.viewer).get(LIST).content.decode()
    assert "Done test" in html and "Draft test" in html and "Their test" not in html
    assert "badge-status-ok" in html and "badge-status-draft" in html
    assert f'value="{done.finished_cells}" max="{done.total_cells}"' in html
    assert "No significant difference" in html
    assert "New A/B test" not in html  # viewer


def test_list_fragment_and_status_filter(team: Any) -> None:
    make_test(team.workspace, name="Alpha")
    part = browser(team.viewer).get(LIST, {"status": "completed"}, **fragment("test-results")).content.decode()
    assert "<html" not in part and "Alpha" not in part and "No tests match" in part
    part = browser(team.viewer).get(LIST, {"q": "alp"}, **fragment("test-results")).content.decode()
    assert "Alpha" in part


@pytest.mark.parametrize("count", [5, 50])
def test_list_query_count_is_constant(
    team: Any, count: int, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset = make_dataset(team.workspace, rows=2)
    for i in range(count):
        make_test(team.workspace, name=f"t{i}", dataset=dataset)
    finished(team, django_capture_on_commit_callbacks, rows=2, name="finished one")
    client = browser(team.viewer)
    client.get(LIST)
    with django_assert_max_num_queries(11):
        assert client.get(LIST).status_code == 200


# --- builder ----------------------------------------------------------------------------------------


def test_builder_lists_datasets_prompts_models_and_evaluators(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=4, name="Questions")
    make_version(team.workspace, name="My prompt")
    html = browser(team.editor).get(reverse("abtests:new"), {"dataset": dataset.pk}).content.decode()
    assert "Questions (4 rows)" in html and "My prompt · v1 (latest)" in html
    assert 'value="echo|echo"' in html and "LLM as judge" in html and "JSON schema" in html
    assert "<strong>8</strong> calls" in html  # 2 variants x 4 rows x 1 repetition


def test_builder_saves_a_draft_and_the_detail_shows_calls_and_estimate(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=3)
    response = browser(team.editor).post(reverse("abtests:new"), builder_post(team, dataset))
    test = ABTest.objects.get(name="Short vs long")
    assert response.status_code == 302 and response["Location"] == reverse("abtests:detail", args=[test.pk])
    variants = list(test.variants.order_by("order"))
    assert [v.name for v in variants] == ["Short", "Long"] and test.control_id == variants[0].pk
    assert variants[0].params == {"temperature": 0.2} and variants[1].params == {"max_tokens": 200}
    assert test.repetitions == 2 and test.evaluators[0]["value"] == "question"
    html = browser(team.viewer).get(reverse("abtests:detail", args=[test.pk])).content.decode()
    assert "Before you start" in html and "estimated cost" in html and ">12<" in html  # 2 x 3 x 2 calls
    assert "Start test" not in html  # viewer
    assert "Start test" in browser(team.editor).get(reverse("abtests:detail", args=[test.pk])).content.decode()


def test_builder_errors_sit_next_to_fields_and_keep_everything(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=3)
    data = builder_post(team, dataset, name="", repetitions="lots", **{"v1-temperature": "9", "e0-value": ""})
    response = browser(team.editor).post(reverse("abtests:new"), data, **fragment("builder"))
    html = response.content.decode()
    assert response.status_code == 400 and "<html" not in html
    assert "A test needs a name." in html and "Repetitions must be a whole number" in html
    assert "Temperature is a number from 0 to 2." in html
    assert 'value="lots"' in html and 'value="Short"' in html and 'value="9"' in html
    assert not ABTest.objects.exists()


def test_service_refusal_lands_on_the_evaluator(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=3)
    data = builder_post(team, dataset, **{"e0-type": "regex", "e0-pattern": "(unclosed"})
    html = browser(team.editor).post(reverse("abtests:new"), data).content.decode()
    assert 'value="(unclosed"' in html and "has-error" in html
    assert not ABTest.objects.exists()


def test_add_and_remove_variants_and_evaluators_keep_input(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=3)
    client = browser(team.editor)
    html = client.post(reverse("abtests:new"), builder_post(team, dataset, action="add-variant")).content.decode()
    assert 'name="v2-name" value="A"' in html and 'value="Short"' in html
    html = client.post(
        reverse("abtests:new"), builder_post(team, dataset, action="add-evaluator:", new_evaluator="is-json")
    ).content.decode()
    assert 'name="e1-type"' in html and '<option value="is-json" selected>' in html
    html = client.post(
        reverse("abtests:new"), builder_post(team, dataset, action="remove-evaluator:0")
    ).content.decode()
    assert 'name="e0-type"' not in html and "No evaluators yet." in html


def test_viewer_cannot_build_or_start(team: Any) -> None:
    test = make_test(team.workspace)
    client = browser(team.viewer)
    assert client.get(reverse("abtests:new")).status_code == 403
    assert client.get(reverse("abtests:edit", args=[test.pk])).status_code == 403
    for name in ("abtests:start", "abtests:cancel", "abtests:delete"):
        assert client.post(reverse(name, args=[test.pk])).status_code == 403


def test_outsider_gets_404_on_every_test_page(team: Any) -> None:
    test = make_test(team.workspace)
    client = browser(team.outsider)
    for name in ("detail", "edit", "progress", "results", "trials", "review-pairwise", "review-rating"):
        assert client.get(reverse(f"abtests:{name}", args=[test.pk])).status_code == 404, name
    for name in ("start", "cancel", "delete"):
        assert client.post(reverse(f"abtests:{name}", args=[test.pk])).status_code == 404, name


def test_edit_a_draft_prefills_the_builder(team: Any) -> None:
    test = make_test(team.workspace, name="Editable", evaluators=[{"type": "contains-any", "values": ["a", "b"]}])
    html = browser(team.editor).get(reverse("abtests:edit", args=[test.pk])).content.decode()
    assert 'value="Editable"' in html and 'name="v1-name" value="B"' in html and "a\nb</textarea>" in html


# --- running ----------------------------------------------------------------------------------------


def test_start_then_progress_polls_until_finished(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=3)
    with django_capture_on_commit_callbacks(execute=False):
        response = browser(team.editor).post(reverse("abtests:start", args=[test.pk]))
    assert response.status_code == 302
    test.refresh_from_db()
    assert test.status == Status.QUEUED and test.total_cells == 6
    url = reverse("abtests:progress", args=[test.pk])
    part = browser(team.viewer).get(url, **fragment("test-progress")).content.decode()
    assert "<html" not in part and 'hx-trigger="every 2s"' in part and "0 of 6 calls" in part
    assert "<html" in browser(team.viewer).get(url).content.decode()  # opened directly: the whole page
    engine.run_cells_sync(test.pk)
    polled = browser(team.viewer).get(url + "?was=active", **fragment("test-progress"))
    assert polled["HX-Refresh"] == "true"  # the run ended: reload to the final state
    final = browser(team.viewer).get(url, **fragment("test-progress")).content.decode()
    assert "every 2s" not in final and "6 of 6 calls" in final and "See results" in final


def test_cancel_asks_first_and_stops(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=3)
    with django_capture_on_commit_callbacks(execute=False):
        abtest_start(test=test)
    html = browser(team.editor).get(reverse("abtests:detail", args=[test.pk])).content.decode()
    assert "data-confirm=" in html and "Cancel test" in html
    browser(team.editor).post(reverse("abtests:cancel", args=[test.pk]))
    test.refresh_from_db()
    assert test.status in (Status.CANCELLING, Status.CANCELLED)


# --- results and drill-down -------------------------------------------------------------------------


def test_results_page_shows_figures_and_comparison(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = finished(
        team,
        django_capture_on_commit_callbacks,
        rows=6,
        evaluators=[{"type": "contains", "value": "Variant B"}],
    )
    html = browser(team.viewer).get(reverse("abtests:results", args=[test.pk])).content.decode()
    assert "Per variant" in html and "Against the control (A)" in html
    assert "McNemar" in html and "Holm" in html and "95% CI" in html
    assert "0.0%" in html and "100.0%" in html  # A never passes, B always
    assert 'class="num"' in html and "ab-ci-bar" in html
    assert "format=csv" in html
    assert "Winner: B" in html or "No significant winner" in html


def test_drilldown_shows_inputs_and_outputs_side_by_side_failures_first(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = finished(
        team, django_capture_on_commit_callbacks, rows=4, evaluators=[{"type": "contains", "value": "question 2"}]
    )
    url = reverse("abtests:trials", args=[test.pk])
    html = browser(team.viewer).get(url).content.decode()
    assert "card-compare" in html and "question 0" in html
    rows = re.findall(r'id="drill-row-(\d+)"', html)
    assert rows[-1] == "2"  # the only row where both pass comes last
    ordered = browser(team.viewer).get(url, {"order": "row"}, **fragment("drilldown")).content.decode()
    assert "<html" not in ordered and re.findall(r'id="drill-row-(\d+)"', ordered) == ["0", "1", "2", "3"]


# --- reviews ----------------------------------------------------------------------------------------


def test_pairwise_page_hides_variant_names_and_records_the_choice(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = make_test(
        team.workspace,
        rows=3,
        texts=["Concise: {{question}} {{marker}}", "Thorough: {{question}} {{marker}}"],
    )
    test.variants.filter(order=0).update(name="Zebracontrol")
    test.variants.filter(order=1).update(name="Quokkachallenger")
    with django_capture_on_commit_callbacks(execute=False):
        abtest_start(test=test)
    engine.run_cells_sync(test.pk)
    client = browser(team.editor)
    url = reverse("abtests:review-pairwise", args=[test.pk])
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200 and "A is better" in html and "B is better" in html and "Tie" in html
    for name in ("Zebracontrol", "Quokkachallenger"):
        assert name not in html
    trial_ids = [str(t) for t in Trial.objects.filter(test=test).values_list("id", flat=True)]
    hidden = re.findall(r'name="item" value="([^"]+)"', html)[0]
    assert hidden not in trial_ids
    done = client.post(url, {"item": hidden, "choice": "b"})
    assert done.status_code == 302
    review = Review.objects.get(test=test)
    assert review.choice == "b" and review.sides == {"left": review.trial_a_id, "right": review.trial_b_id}
    assert review.trial_a.row_index == review.trial_b.row_index
    assert client.post(url, {"item": hidden, "choice": "a"}).status_code == 302  # a replay is ignored
    assert Review.objects.filter(test=test).count() == 1


def test_pairwise_sides_are_randomised(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = finished(team, django_capture_on_commit_callbacks, rows=8)
    client = browser(team.editor)
    url = reverse("abtests:review-pairwise", args=[test.pk])
    lefts = set()
    for _ in range(20):
        html = client.get(url).content.decode()
        left = re.search(r'id="side-a">A</h2><pre class="ab-output-text">\[user\] Variant (\w)', html)
        lefts.add(left.group(1))
    assert lefts == {"A", "B"}


def test_rating_page_records_a_rating(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = finished(
        team,
        django_capture_on_commit_callbacks,
        rows=2,
        evaluators=[{"type": "human", "mode": "rating", "pass_score": 4}],
    )
    client = browser(team.editor)
    url = reverse("abtests:review-rating", args=[test.pk])
    html = client.get(url).content.decode()
    token = re.findall(r'name="item" value="([^"]+)"', html)[0]
    assert 'name="rating" value="5"' in html
    bad = client.post(url, {"item": token, "rating": "9"})
    assert bad.status_code == 400 and "Choose a rating from 1 to 5." in bad.content.decode()
    token = re.findall(r'name="item" value="([^"]+)"', bad.content.decode())[0]
    assert client.post(url, {"item": token, "rating": "5"}).status_code == 302
    review = Review.objects.get(test=test)
    assert review.rating == 5 and review.trial_a.status == TrialStatus.OK


def test_reviews_need_an_editor(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = finished(team, django_capture_on_commit_callbacks, rows=2)
    for name in ("abtests:review-pairwise", "abtests:review-rating"):
        assert browser(team.viewer).get(reverse(name, args=[test.pk])).status_code == 403
        assert browser(team.viewer).post(reverse(name, args=[test.pk]), {"choice": "a"}).status_code == 403
    html = browser(team.viewer).get(reverse("abtests:results", args=[test.pk])).content.decode()
    assert "Blind review" not in html


def test_delete_a_finished_test(team: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = finished(team, django_capture_on_commit_callbacks, rows=2)
    response = browser(team.editor).post(reverse("abtests:delete", args=[test.pk]))
    assert response.status_code == 302 and response["Location"] == LIST
    assert not ABTest.objects.filter(pk=test.pk).exists()
