from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Each test stores uploads in its own empty directory, so 'nothing stored' can be checked."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# The fake provider server (a real HTTP server the SDKs talk to) from the providers app.
from providers.tests.conftest import fake_provider, providers_on_fake  # noqa: E402,F401


@pytest.fixture
def catalog(db: Any) -> None:
    """The shipped model catalog (transactional tests flush what the data migration loaded)."""
    from providers.catalog import load_default_models
    from providers.models import ModelInfo

    load_default_models(ModelInfo, update=False)
