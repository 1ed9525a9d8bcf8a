"""Demo data for abtests: a small dataset of customer messages for the demo support prompt.

Its ``company`` and ``message`` columns match the variables of the demo "support reply" prompt
(prompts/demo.py); ``expected`` holds a word a good reply should contain, for a ``contains``
evaluator such as ``{"type": "icontains", "value": "{{ expected }}"}``.
"""

from __future__ import annotations

from abtests.models import Dataset
from abtests.services import dataset_create
from accounts.models import User, Workspace

DATASET_NAME = "Demo: customer messages"

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
    """Create the demo dataset unless the workspace already has one by that name."""
    if Dataset.objects.filter(workspace=workspace, name=DATASET_NAME).exists():
        return
    dataset_create(
        workspace=workspace,
        user=user,
        name=DATASET_NAME,
        description="Eight customer messages to try support-reply prompts on.",
        columns=COLUMNS,
        rows=[{"company": c, "message": m, "expected": e} for c, m, e in ROWS],
    )
