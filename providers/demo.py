"""Demo data for providers: the model catalog (with the free echo model) is all a new workspace needs.

The echo provider needs no key, so a fresh install with no provider credentials can run the demo
prompts on ``echo`` straight away.
"""

from __future__ import annotations

from typing import Any

from providers.catalog import load_default_models
from providers.models import ModelInfo


def seed(workspace: Any, user: Any) -> None:
    """Make sure the shipped catalog (including echo) exists; edited prices are left alone."""
    load_default_models(ModelInfo, update=False)
