"""Rate limits on provider runs, uploads and imports: the next request over the rate is a 429 with a wait."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studio.throttling import WriteScopedRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    monkeypatch.setitem(rates, "run", "2/min")
    monkeypatch.setitem(rates, "upload", "2/min")


def run(client: Any, team: Any) -> Any:
    return client.post(reverse("api:testing-run"), {"workspace": team.workspace.pk}, format="json")


def upload(client: Any, team: Any) -> Any:
    file = SimpleUploadedFile("x.txt", b"not an image")
    return client.post(reverse("api:asset-list"), {"workspace": team.workspace.pk, "file": file}, format="multipart")


def dataset_import(client: Any, team: Any) -> Any:
    file = SimpleUploadedFile("rows.csv", b"question\nhello\n")
    data = {"workspace": team.workspace.pk, "file": file, "dry_run": "true"}
    return client.post(reverse("api:dataset-import"), data, format="multipart")


def export_import(client: Any, team: Any) -> Any:
    file = SimpleUploadedFile("export.json", b"{}")
    data = {"workspace": team.workspace.pk, "file": file, "dry_run": "true"}
    return client.post(reverse("api:export-import"), data, format="multipart")


@pytest.mark.parametrize("call", [run, upload, dataset_import, export_import], ids=lambda f: f.__name__)
def test_the_third_request_in_a_minute_is_throttled(team: Any, api: Any, low_rates: None, call: Any) -> None:
    client = api(team.editor)
    first, second, third = (call(client, team) for _ in range(3))
    assert first.status_code != 429 and second.status_code != 429
    assert third.status_code == 429
    body = third.json()
    assert body["code"] == "throttled" and body["retry_after"] > 0
    assert int(third["Retry-After"]) > 0
    # Counted per user: a teammate still gets through.
    assert call(api(team.admin), team).status_code != 429


def test_reading_uploads_is_not_throttled_by_uploading(team: Any, api: Any, low_rates: None) -> None:
    client = api(team.editor)
    for _ in range(2):
        upload(client, team)
    assert upload(client, team).status_code == 429
    for _ in range(3):
        assert client.get(reverse("api:asset-list"), {"workspace": team.workspace.pk}).status_code == 200


def test_rates_come_from_the_environment(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, DEBUG="true", THROTTLE_RUN_RATE="7/hour", THROTTLE_UPLOAD_RATE="3/min")
    env.pop("SECRET_KEY", None)
    env["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    env["STUDIO_VAR_DIR"] = str(tmp_path)
    code = "from django.conf import settings; r = settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']; print(r['run'], r['upload'])"
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["7/hour", "3/min"], done.stderr


def test_the_throttled_views_use_their_scopes() -> None:
    from abtests.api import DatasetImportView
    from exports.api import ImportView
    from prompts.api import AssetListView
    from providers.api import RunCreateView

    for view, scope in (
        (RunCreateView, "run"),
        (AssetListView, "upload"),
        (DatasetImportView, "upload"),
        (ImportView, "upload"),
    ):
        assert view.throttle_classes == [WriteScopedRateThrottle]
        assert view.throttle_scope == scope
