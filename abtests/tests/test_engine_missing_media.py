"""A test whose prompt's image file disappears after the start fails with the reason; it never hangs in running.

Before the fix, reading the missing file raised FileNotFoundError out of every chunk: the test stayed
"running" and the sweep re-enqueued the same failing chunk forever.
"""

from __future__ import annotations

from typing import Any

import pytest

from abtests import engine
from abtests.models import TestStatus as Status
from abtests.models import Trial, TrialStatus
from abtests.services import abtest_create, abtest_start
from abtests.tests.factories import make_dataset
from prompts.services import prompt_create
from providers.tests.helpers import make_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalog")]


def test_an_image_file_gone_after_the_start_fails_the_test_with_the_reason(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    asset = make_asset(team.workspace, "image")
    content = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Look: {{question}}"}, {"type": "image", "asset": str(asset.pk)}],
            }
        ],
        "variables": [{"name": "question", "type": "text"}],
        "model": {"provider": "echo", "name": "echo"},
    }
    version = prompt_create(workspace=team.workspace, user=None, name="With a picture", content=content).versions.get()
    variants = [
        {"name": name, "prompt_version": version.pk, "provider": "echo", "model": "echo"} for name in ("A", "B")
    ]
    test = abtest_create(
        workspace=team.workspace,
        user=None,
        name="picture",
        dataset=make_dataset(team.workspace, rows=3),
        variants=variants,
    )
    with django_capture_on_commit_callbacks(execute=False):  # the chunks are run by hand below
        abtest_start(test=test)
    asset.file.storage.delete(asset.file.name)  # storage lost the file while the test was queued

    engine.run_chunk(test.pk, list(Trial.objects.filter(test=test).values_list("id", flat=True)))

    test.refresh_from_db()
    assert test.status == Status.FAILED
    assert "can't be read from storage" in test.reason
    assert test.finished_at is not None
    assert not Trial.objects.filter(test=test, status__in=[TrialStatus.PENDING, TrialStatus.RUNNING]).exists()
    assert engine.sweep()["enqueued"] == 0  # nothing left for the sweep to retry
