from __future__ import annotations

import pytest

from abtests import demo
from abtests.models import Dataset
from abtests.services import dataset_snapshot_create
from accounts.tests.factories import UserFactory, WorkspaceFactory
from prompts import demo as prompts_demo
from prompts.models import Prompt

pytestmark = pytest.mark.django_db


def test_seed_makes_one_small_dataset_and_is_idempotent() -> None:
    workspace, user = WorkspaceFactory(), UserFactory()
    demo.seed(workspace=workspace, user=user)
    demo.seed(workspace=workspace, user=user)
    dataset = Dataset.objects.get(workspace=workspace)
    assert dataset.name == demo.DATASET_NAME
    assert 6 <= dataset.rows.count() <= 10
    assert dataset_snapshot_create(dataset=dataset).row_count == dataset.rows.count()


def test_demo_dataset_columns_cover_the_demo_support_prompt_variables() -> None:
    workspace, user = WorkspaceFactory(), UserFactory()
    prompts_demo.seed(workspace=workspace, user=user)
    demo.seed(workspace=workspace, user=user)
    support = Prompt.objects.get(workspace=workspace, slug=prompts_demo.SUPPORT_SLUG)
    variables = {v["name"] for version in support.versions.all() for v in version.variables}
    assert variables <= set(Dataset.objects.get(workspace=workspace).column_names)
