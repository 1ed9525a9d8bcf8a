"""Demo data for abtests: a small dataset of customer messages for the demo support prompt, and a
finished A/B test of the support prompt's ``production`` label against its ``staging`` label on it.

Its ``company`` and ``message`` columns match the variables of the demo "support reply" prompt
(prompts/demo.py); ``expected`` holds a word a good reply should contain, for a ``contains``
evaluator such as ``{"type": "icontains", "value": "{{ expected }}"}``. The demo test runs on the
echo provider (no key, no network), in this process (``engine.run_cells_sync``), so ``make run``
shows results at once.
"""

from __future__ import annotations

from abtests import engine
from abtests.models import ABTest, Dataset
from abtests.services import abtest_create, abtest_start, dataset_create
from accounts.models import User, Workspace

DATASET_NAME = "Demo: customer messages"
TEST_NAME = "Demo: support reply, production vs staging"

COLUMNS = [
    {"name": "company", "type": "text"},
    {"name": "message", "type": "text"},
    {"name": "expected", "type": "text"},
]

ROWS = [
    ("Lumen", "My order arrived damaged. The glass bottle was cracked.", "replacement"),
    ("Lumen", "I was charged twice for the same order.", "refund"),
    ("Lumen", "Where is my parcel? The tracking page hasn't changed in a week.", "tracking"),
    ("Northwind", "How do I reset my password? The email never arrives.", "password"),
    ("Northwind", "Can I change the delivery address after ordering?", "address"),
    ("Northwind", "Your app crashes when I open the settings page.", "update"),
    ("Lumen", "Do you ship to Canada, and how long does it take?", "shipping"),
    ("Northwind", "I'd like to cancel my subscription.", "cancel"),
]


def seed(*, workspace: Workspace, user: User) -> None:
    """Create the demo dataset and the finished demo test unless the workspace has them already."""
    dataset = Dataset.objects.filter(workspace=workspace, name=DATASET_NAME).first() or _seed_dataset(workspace, user)
    if not ABTest.objects.filter(workspace=workspace, name=TEST_NAME).exists():
        _seed_test(workspace, user, dataset)


def _seed_test(workspace: Workspace, user: User, dataset: Dataset) -> None:
    from prompts.models import Prompt

    prompt = Prompt.objects.filter(workspace=workspace, slug="support-reply").first()
    if prompt is None or not {"production", "staging"} <= set(prompt.labels.values_list("name", flat=True)):
        return  # the prompts seeder did not make the support prompt: nothing to compare
    variants = [
        {"name": name, "prompt": prompt.pk, "label": name, "provider": "echo", "model": "echo"}
        for name in ("production", "staging")
    ]
    test = abtest_create(
        workspace=workspace,
        user=user,
        name=TEST_NAME,
        description="The reply a customer gets with each label; passes when it mentions the expected word.",
        dataset=dataset,
        variants=variants,
        repetitions=2,
        evaluators=[{"type": "icontains", "value": "{{ expected }}"}, {"type": "length", "max_chars": 2000}],
        pass_threshold=1.0,
    )
    abtest_start(test=test, user=user, enqueue=False)
    engine.run_cells_sync(test.pk)


def _seed_dataset(workspace: Workspace, user: User) -> Dataset:
    return dataset_create(
        workspace=workspace,
        user=user,
        name=DATASET_NAME,
        description="Eight customer messages to try support-reply prompts on.",
        columns=COLUMNS,
        rows=[{"company": c, "message": m, "expected": e} for c, m, e in ROWS],
    )
