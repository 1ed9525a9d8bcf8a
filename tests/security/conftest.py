from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.seeding import DemoLogin, seed_demo


@pytest.fixture
def demo(db: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoLogin:
    """The demo workspace as ``make run`` seeds it (every app's demo.py), for crawling real pages."""
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-security-tests")
    return seed_demo()
