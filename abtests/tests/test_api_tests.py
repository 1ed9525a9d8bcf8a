"""/api/tests/: every endpoint, the role matrix, other workspaces (404) and pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from abtests import engine
from abtests.models import ABTest, Review, Trial, TrialStatus
from abtests.models import TestStatus as Status
from abtests.services import TEST_NOT_DRAFT
from abtests.tests.factories import make_dataset, make_test, make_version

pytestmark = pytest.mark.django_db


def url(name: str, **kw: Any) -> str:
    return reverse(f"api:{name}", kwargs=kw)


def body(team: Any, **extra: Any) -> dict[str, Any]:
    dataset = make_dataset(team.workspace, rows=3)
    a = make_version(team.workspace, "A: {{question}} {{marker}}", name="pa")
    b = make_version(team.workspace, "B: {{question}} {{marker}}", name="pb")
    return {
        "workspace": team.workspace.pk,
        "name": "Tone test",
        "dataset": dataset.pk,
        "variants": [
            {"name": "A", "prompt_version": a.pk, "provider": "echo", "model": "echo"},
            {"name": "B", "prompt_version": b.pk, "provider": "echo", "model": "echo", "params": {"temperature": 0.5}},
        ],
        "evaluators": [{"type": "contains", "value": "{{ question }}"}],
        "repetitions": 2,
        **extra,
    }


def test_editor_creates_a_draft_with_an_estimate(team: Any, api: Any) -> None:
    response = api(team.editor).post(url("test-list"), body(team), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft" and data["control"] == "A"
    assert [v["name"] for v in data["variants"]] == ["A", "B"]
    assert data["estimate"]["calls"] == 2 * 3 * 2 and data["estimate"]["cells"] == 12


def test_viewer_cannot_create_a_test(team: Any, api: Any) -> None:
    response = api(team.viewer).post(url("test-list"), body(team), format="json")
    assert response.status_code == 403


def test_one_variant_is_refused_with_a_clear_message(team: Any, api: Any) -> None:
    data = body(team)
    data["variants"] = data["variants"][:1]
    response = api(team.editor).post(url("test-list"), data, format="json")
    # The schema says 2 to 10 (minItems/maxItems), so the serializer refuses it before the service.
    assert response.status_code == 400
    assert response.json()["detail"] == "variants: Ensure this field has at least 2 elements."
    assert not ABTest.objects.exists()


def test_bad_evaluator_names_the_place(team: Any, api: Any) -> None:
    response = api(team.editor).post(
        url("test-list"), body(team, evaluators=[{"type": "regex", "pattern": "("}]), format="json"
    )
    assert response.status_code == 400
    assert "evaluators[0].pattern" in response.json()["detail"]


def test_list_is_scoped_and_query_count_is_constant(team: Any, api: Any, django_assert_max_num_queries: Any) -> None:
    for i in range(3):
        make_test(team.workspace, rows=2, name=f"t{i}")
    make_test(team.other_workspace, rows=2, name="theirs")
    client = api(team.viewer)
    client.get(url("test-list"))  # warm caches (memberships)
    with django_assert_max_num_queries(6) as few:
        response = client.get(url("test-list"))
    assert response.status_code == 200
    assert sorted(t["name"] for t in response.json()["results"]) == ["t0", "t1", "t2"]
    for i in range(3, 9):
        make_test(team.workspace, rows=2, name=f"t{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url("test-list")).json()["count"] == 9


def test_another_workspace_test_is_404_everywhere(team: Any, api: Any) -> None:
    theirs = make_test(team.other_workspace, rows=2)
    client = api(team.owner)
    for name in ("test-detail", "test-results", "test-trials", "test-estimate"):
        assert client.get(url(name, test_id=theirs.pk)).status_code == 404
    for name in ("test-start", "test-cancel", "test-reviews"):
        assert client.post(url(name, test_id=theirs.pk), {}, format="json").status_code == 404
    assert client.patch(url("test-detail", test_id=theirs.pk), {"name": "x"}, format="json").status_code == 404
    assert client.delete(url("test-detail", test_id=theirs.pk)).status_code == 404


def test_patch_only_while_draft(team: Any, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=2)
    client = api(team.editor)
    response = client.patch(url("test-detail", test_id=test.pk), {"name": "Renamed", "control": 1}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    assert response.json()["control"] == "B"
    assert api(team.viewer).patch(url("test-detail", test_id=test.pk), {"name": "x"}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(url("test-start", test_id=test.pk)).status_code == 202
    response = client.patch(url("test-detail", test_id=test.pk), {"name": "Later"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert TEST_NOT_DRAFT.format(status="queued") in response.json()["detail"]


def test_start_freezes_the_dataset_and_creates_every_cell(
    team: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = make_test(team.workspace, rows=3, repetitions=2)
    assert api(team.viewer).post(url("test-start", test_id=test.pk)).status_code == 403
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api(team.editor).post(url("test-start", test_id=test.pk))
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["total_cells"] == 12
    assert response.json()["snapshot"] is not None
    assert Trial.objects.filter(test=test).count() == 12
    assert len(callbacks) == 1  # the chunks are enqueued once the transaction commits


def test_start_refuses_an_unknown_model_before_anything_runs(team: Any, api: Any) -> None:
    test = make_test(team.workspace, rows=2, model="no-such-model")
    response = api(team.editor).post(url("test-start", test_id=test.pk))
    assert response.status_code == 400
    assert "Variant A" in response.json()["detail"] and "no-such-model" in response.json()["detail"]
    test.refresh_from_db()
    assert test.status == Status.DRAFT and not Trial.objects.filter(test=test).exists()


def test_start_refuses_an_empty_dataset(team: Any, api: Any) -> None:
    test = make_test(team.workspace, dataset=make_dataset(team.workspace, rows=0, name="empty"))
    response = api(team.editor).post(url("test-start", test_id=test.pk))
    assert response.status_code == 409 and "has no rows" in response.json()["detail"]


def _finished(team: Any, capture: Any, **kw: Any) -> ABTest:
    from abtests.services import abtest_start

    test = make_test(team.workspace, **kw)
    with capture(execute=False):
        abtest_start(test=test)
    engine.run_cells_sync(test.pk)
    test.refresh_from_db()
    return test


def test_results_and_trials_for_viewers(
    team: Any, api: Any, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    test = _finished(
        team, django_capture_on_commit_callbacks, rows=4, evaluators=[{"type": "contains", "value": "question 1"}]
    )
    client = api(team.viewer)
    results = client.get(url("test-results", test_id=test.pk)).json()
    assert results["progress"]["status"] == "completed" and results["progress"]["finished"] == 8
    assert [v["n"] for v in results["variants"]] == [4, 4]
    assert results["variants"][0]["passes"] == 1
    assert results["comparison"]["winner"] is None
    with django_assert_max_num_queries(8) as few:
        page = client.get(url("test-trials", test_id=test.pk), {"page_size": 3}).json()
    assert page["count"] == 8 and len(page["results"]) == 3
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url("test-trials", test_id=test.pk), {"page_size": 8}).json()
    passed = client.get(url("test-trials", test_id=test.pk), {"passed": "true"}).json()
    assert passed["count"] == 2
    b = test.variants.get(name="B")
    assert client.get(url("test-trials", test_id=test.pk), {"variant": b.pk}).json()["count"] == 4
    assert client.get(url("test-trials", test_id=test.pk), {"passed": "maybe"}).status_code == 400
    unknown = client.get(url("test-trials", test_id=test.pk), {"status": "done"})
    assert unknown.status_code == 400 and "status must be one of" in unknown.json()["errors"]["status"][0]
    assert client.get(url("test-trials", test_id=test.pk), {"status": "ok"}).json()["count"] == 8


def test_cancel_a_queued_test(team: Any, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    test = make_test(team.workspace, rows=2)
    with django_capture_on_commit_callbacks(execute=False):
        api(team.editor).post(url("test-start", test_id=test.pk))
    assert api(team.viewer).post(url("test-cancel", test_id=test.pk)).status_code == 403
    response = api(team.editor).post(url("test-cancel", test_id=test.pk))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Trial.objects.filter(test=test, status=TrialStatus.SKIPPED).count() == 4
    assert api(team.editor).post(url("test-cancel", test_id=test.pk)).status_code == 409


def test_reviews_need_an_editor_and_a_rating_rescores(
    team: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    test = _finished(
        team,
        django_capture_on_commit_callbacks,
        rows=2,
        evaluators=[{"type": "human", "mode": "rating", "pass_score": 4}],
    )
    a, b = (Trial.objects.filter(test=test, row_index=0, variant__name=n).get() for n in ("A", "B"))
    pair = {"trial_a": a.pk, "trial_b": b.pk, "choice": "b", "sides": {"left": b.pk, "right": a.pk}}
    assert api(team.viewer).post(url("test-reviews", test_id=test.pk), pair, format="json").status_code == 403
    response = api(team.editor).post(url("test-reviews", test_id=test.pk), pair, format="json")
    assert response.status_code == 201 and response.json()["choice"] == "b"
    response = api(team.editor).post(
        url("test-reviews", test_id=test.pk), {"trial_a": a.pk, "rating": 2}, format="json"
    )
    assert response.status_code == 201
    a.refresh_from_db()
    assert a.passed is False and a.score == pytest.approx(0.25)
    bad = api(team.editor).post(url("test-reviews", test_id=test.pk), {"trial_a": a.pk, "rating": 9}, format="json")
    assert bad.status_code == 400
    assert Review.objects.filter(test=test).count() == 2


def test_delete_needs_an_editor(team: Any, api: Any) -> None:
    test = make_test(team.workspace, rows=2)
    assert api(team.viewer).delete(url("test-detail", test_id=test.pk)).status_code == 403
    assert api(team.editor).delete(url("test-detail", test_id=test.pk)).status_code == 204
    assert not ABTest.objects.filter(pk=test.pk).exists()


def test_anonymous_gets_401(api: Any) -> None:
    assert api(None).get(url("test-list")).status_code == 401
