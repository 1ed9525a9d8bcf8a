from __future__ import annotations

import pytest

from abtests import demo
from abtests.models import ABTest, TrialStatus
from abtests.models import TestStatus as Status
from abtests.results import test_results as results_of
from accounts.tests.factories import UserFactory, WorkspaceFactory
from prompts import demo as prompts_demo

pytestmark = pytest.mark.django_db


def test_seed_makes_a_finished_demo_test_with_results_once() -> None:
    workspace, user = WorkspaceFactory(), UserFactory()
    prompts_demo.seed(workspace=workspace, user=user)
    demo.seed(workspace=workspace, user=user)
    demo.seed(workspace=workspace, user=user)
    test = ABTest.objects.get(workspace=workspace)
    assert test.name == demo.TEST_NAME and test.status == Status.COMPLETED
    assert test.trials.filter(status=TrialStatus.OK).count() == test.total_cells == 2 * len(demo.ROWS) * 2
    assert [v.prompt_version.labels.get().name for v in test.variants.order_by("order")] == ["production", "staging"]
    results = results_of(test)
    assert [v["n"] for v in results["variants"]] == [16, 16]
    assert results["comparison"]["verdict"]
