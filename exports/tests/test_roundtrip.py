"""Done when 1: export -> import into another workspace -> export gives the same content (ids and times aside)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from abtests.models import ABTest
from exports import exporters
from exports.formats import FORMAT, FORMAT_VERSION, load_yaml
from exports.services import bundle_import
from prompts.models import Asset, Label, LabelMove, Prompt, PromptVersion
from providers.models import Run

VOLATILE = {"id", "run_id", "created_at", "exported_at", "at", "started_at", "finished_at"}


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def comparable(bundle: exporters.Bundle) -> dict[str, Any]:
    return strip(bundle.document)


def upload(export: exporters.ExportFile) -> SimpleUploadedFile:
    return SimpleUploadedFile(export.filename, export.data, content_type=export.content_type)


@pytest.mark.django_db
@pytest.mark.parametrize("media", ["archive", "data-url"])
def test_workspace_round_trip_recreates_everything_with_new_ids(filled: Any, team: Any, media: str) -> None:
    first = exporters.workspace_bundle(workspace_id=team.workspace.pk, media=media)
    export = exporters.render(first, fmt="zip" if media == "archive" else "json", basename="ws")
    result = bundle_import(workspace=team.other_workspace, user=team.outsider, upload=upload(export))

    assert result.counts == {"prompts": 2, "templates": 1, "datasets": 1, "runs": 2, "abtests": 1}
    assert result.assets == 3
    second = exporters.workspace_bundle(workspace_id=team.other_workspace.pk, media=media)
    a, b = comparable(second), comparable(first)
    for key in a:
        assert a[key] == b[key], key

    # New rows with new ids, and asset references point at the new workspace's assets.
    new_prompt = Prompt.objects.get(workspace=team.other_workspace, slug=filled.prompt.slug)
    assert new_prompt.pk != filled.prompt.pk
    new_assets = {str(a.pk) for a in Asset.objects.filter(workspace=team.other_workspace)}
    assert len(new_assets) == 3
    latest = new_prompt.versions.get(number=2)
    refs = [p["asset"] for m in latest.content["messages"] for p in m["content"] if "asset" in p]
    assert len(refs) == 3 and set(refs) <= new_assets
    assert latest.created_at == filled.prompt.versions.get(number=2).created_at
    assert Label.objects.get(prompt=new_prompt, name="production").version == latest
    assert LabelMove.objects.filter(prompt=new_prompt).count() == 3
    run = Run.objects.get(workspace=team.other_workspace, status="ok")
    assert run.prompt_version == latest
    assert run.input["messages"][0]["content"][1]["asset"] in new_assets
    test = ABTest.objects.get(workspace=team.other_workspace)
    assert test.status == "completed" and test.control.name == "cool"
    assert test.trials.count() == 4 and test.trials.get(run__isnull=False).run == run
    assert test.snapshot.rows[0]["values"]["photo"]["asset"] in new_assets
    assert test.variants.get(name="warm").prompt_version == latest


@pytest.mark.django_db
def test_archive_has_a_versioned_manifest_and_assets_by_hash(filled: Any, team: Any) -> None:
    export = exporters.workspace_export(workspace=team.workspace)
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == FORMAT and manifest["format_version"] == FORMAT_VERSION
    assert manifest["counts"] == {"prompts": 2, "templates": 1, "datasets": 1, "runs": 2, "abtests": 1}
    names = set(archive.namelist())
    for asset in (filled.image, filled.audio, filled.pdf):
        assert f"assets/{asset.sha256}.{asset.extension}" in names
    assert {"prompts.json", "templates.json", "datasets.json", "runs.json"} <= names


@pytest.mark.django_db
def test_prompt_export_yaml_with_one_version_imports_as_a_single_version(filled: Any, team: Any) -> None:
    export = exporters.prompt_export(prompt=filled.prompt, fmt="yaml", version=1)
    document = load_yaml(export.data.decode())
    (item,) = document["prompts"]
    assert [v["number"] for v in item["versions"]] == [1]
    assert item["labels"] == [{"name": "staging", "version": 1}]
    assert all(a["data_url"].startswith("data:") for a in document["assets"])
    result = bundle_import(workspace=team.other_workspace, user=team.outsider, upload=upload(export))
    assert result.counts == {"prompts": 1}
    copy = Prompt.objects.get(workspace=team.other_workspace)
    assert PromptVersion.objects.filter(prompt=copy).count() == 1
    assert Label.objects.get(prompt=copy).name == "staging"


@pytest.mark.django_db
def test_dry_run_previews_and_creates_nothing(filled: Any, team: Any) -> None:
    export = exporters.workspace_export(workspace=team.workspace)
    before = Prompt.objects.count(), Asset.objects.count(), Run.objects.count()
    result = bundle_import(workspace=team.other_workspace, user=team.outsider, upload=upload(export), dry_run=True)
    assert result.dry_run
    assert result.as_dict()["counts"] == {
        "prompts": 2,
        "templates": 1,
        "datasets": 1,
        "runs": 2,
        "abtests": 1,
        "assets": 3,
    }
    assert "id" not in result.as_dict()["created"]["prompts"][0]
    assert (Prompt.objects.count(), Asset.objects.count(), Run.objects.count()) == before


@pytest.mark.django_db
def test_importing_twice_renames_instead_of_clashing(filled: Any, team: Any) -> None:
    export = exporters.workspace_export(workspace=team.workspace)
    result = bundle_import(workspace=team.workspace, user=team.editor, upload=upload(export))
    assert result.counts["prompts"] == 2
    assert Prompt.objects.filter(workspace=team.workspace).count() == 4
    assert any("imported as" in note for note in result.notes)
    assert {d.name for d in team.workspace.datasets.all()} == {"Receipts", "Receipts (2)"}
