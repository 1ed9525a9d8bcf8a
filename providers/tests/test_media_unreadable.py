"""An asset whose row exists but whose file is gone from storage is refused with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from providers import services
from providers.media import MediaError, resolve_messages
from providers.tests.helpers import make_asset, rendered

pytestmark = pytest.mark.django_db


def test_a_missing_asset_file_is_a_clear_refusal_not_a_crash(team: Any) -> None:
    asset = make_asset(team.workspace, "image")
    asset.file.storage.delete(asset.file.name)
    content = rendered("What is this?", {"type": "image", "asset": str(asset.pk)})

    with pytest.raises(MediaError) as error:
        resolve_messages(content, workspace_id=team.workspace.pk, url_kinds=frozenset())
    assert str(error.value) == (
        f"messages[1].content[1]: the file of asset {asset.pk} can't be read from storage "
        "(No such file or directory); upload it again."
    )

    with pytest.raises(services.RunRefused) as refused:
        services.call_prepare(
            workspace_id=team.workspace.pk, rendered=content, target=services.Target("echo", "echo", {})
        )
    assert "can't be read from storage" in refused.value.text
