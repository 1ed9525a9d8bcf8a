"""Done when 4: bad imports are refused with a clear message and leave every table unchanged."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile

from exports import archive as archive_module
from exports import exporters, formats, services
from exports.formats import ImportRefused
from exports.services import bundle_import


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def zip_of(entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def refuse(team: Any, data: bytes, name: str = "export.zip") -> str:
    before = row_counts()
    with pytest.raises(ImportRefused) as caught:
        bundle_import(workspace=team.other_workspace, user=team.outsider, upload=SimpleUploadedFile(name, data))
    assert row_counts() == before
    return caught.value.text


@pytest.fixture
def good_archive(filled: Any, team: Any) -> bytes:
    return exporters.workspace_export(workspace=team.workspace).data


def rebuilt(data: bytes, change: Any) -> bytes:
    """The archive with its entries passed through ``change(dict)``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    entries = {name: source.read(name) for name in source.namelist()}
    change(entries)
    return zip_of(entries)


@pytest.mark.django_db
def test_truncated_zip_is_refused(good_archive: bytes, team: Any) -> None:
    message = refuse(team, good_archive[: len(good_archive) // 2])
    assert message.startswith("The ZIP archive can't be read: it is damaged or truncated")


@pytest.mark.django_db
def test_zip_bomb_is_refused_before_extracting(team: Any) -> None:
    bomb = zip_of({"manifest.json": "{}", "assets/zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024
    message = refuse(team, bomb)
    assert "possible ZIP bomb" in message and "assets/zeros.bin" in message


@pytest.mark.django_db
def test_total_uncompressed_size_is_capped(team: Any, settings: Any) -> None:
    settings.EXPORTS_ZIP_MAX_UNCOMPRESSED_BYTES = 1000
    message = refuse(team, zip_of({"manifest.json": "{}", "a.json": "x" * 2000}, zipfile.ZIP_STORED))
    assert message.startswith("The archive would expand to 2.0 KB; at most 1000 bytes is allowed")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["../evil.json", "assets/../../evil.json", "/etc/passwd", "C:/x.json"])
def test_paths_that_escape_the_archive_are_refused(good_archive: bytes, team: Any, path: str) -> None:
    message = refuse(team, rebuilt(good_archive, lambda entries: entries.__setitem__(path, b"{}")))
    assert message == archive_module.ZIP_UNSAFE_PATH.format(name=path)


@pytest.mark.django_db
def test_manifest_asset_path_outside_assets_is_refused(good_archive: bytes, team: Any) -> None:
    def change(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["manifest.json"])
        manifest["assets"][0]["file"] = "prompts.json"
        entries["manifest.json"] = json.dumps(manifest).encode()

    message = refuse(team, rebuilt(good_archive, change))
    assert message == services.ASSET_FILE_OUTSIDE.format(path="assets[0]", name="prompts.json")


@pytest.mark.django_db
def test_wrong_manifest_version_is_refused(good_archive: bytes, team: Any) -> None:
    def change(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["manifest.json"])
        manifest["format_version"] = 99
        entries["manifest.json"] = json.dumps(manifest).encode()

    message = refuse(team, rebuilt(good_archive, change))
    assert message == formats.UNKNOWN_VERSION.format(version=99, supported=1)


@pytest.mark.django_db
def test_bad_yaml_is_refused_with_line_and_column(team: Any) -> None:
    text = "format: mps-export\nformat_version: 1\nprompts:\n  - name: [unclosed\n    slug: x\n"
    message = refuse(team, text.encode(), "export.yaml")
    assert message.startswith("The YAML is malformed at line 5, column 9")


@pytest.mark.django_db
def test_bad_json_is_refused_with_line_and_column(team: Any) -> None:
    message = refuse(team, b'{"format": "mps-export",\n "format_version": 1,\n "prompts": [}', "export.json")
    assert message == "The JSON is malformed at line 3, column 14: Expecting value."


@pytest.mark.django_db
def test_yaml_aliases_are_refused(team: Any) -> None:
    text = "format: mps-export\nformat_version: 1\na: &x [1, 2]\nb: *x\n"
    assert refuse(team, text.encode(), "e.yaml") == formats.YAML_ALIASES.format(line=4, column=4)


@pytest.mark.django_db
def test_an_image_that_is_really_html_is_refused(good_archive: bytes, filled: Any, team: Any) -> None:
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    name = f"assets/{filled.image.sha256}.png"

    def change(entries: dict[str, bytes]) -> None:
        entries[name] = html
        manifest = json.loads(entries["manifest.json"])
        for entry in manifest["assets"]:
            if entry["file"] == name:
                entry.pop("sha256")
        entries["manifest.json"] = json.dumps(manifest).encode()

    message = refuse(team, rebuilt(good_archive, change))
    assert name in message
    assert message.endswith("The file contains HTML or script content disguised as media; it was refused.")


@pytest.mark.django_db
def test_a_tampered_asset_fails_its_checksum(good_archive: bytes, filled: Any, team: Any) -> None:
    name = f"assets/{filled.pdf.sha256}.pdf"
    message = refuse(team, rebuilt(good_archive, lambda e: e.__setitem__(name, e[name] + b"\n")))
    assert "does not match the export" in message


@pytest.mark.django_db
def test_an_error_late_in_the_import_rolls_back_everything_and_deletes_stored_files(
    good_archive: bytes, team: Any
) -> None:
    from django.core.files.storage import default_storage

    def change(entries: dict[str, bytes]) -> None:
        runs = json.loads(entries["runs.json"])
        runs[-1]["status"] = "exploded"
        entries["runs.json"] = json.dumps(runs).encode()

    message = refuse(team, rebuilt(good_archive, change))
    assert message.startswith("runs[1].status: 'exploded' is not one of")
    _, files = default_storage.listdir(f"assets/{team.other_workspace.pk}")
    assert files == []


@pytest.mark.django_db
def test_content_errors_name_the_path_in_the_document(good_archive: bytes, team: Any) -> None:
    def change(entries: dict[str, bytes]) -> None:
        prompts = json.loads(entries["prompts.json"])
        prompts[1]["versions"][1]["content"]["messages"][1]["content"][0]["type"] = "video"
        entries["prompts.json"] = json.dumps(prompts).encode()

    message = refuse(team, rebuilt(good_archive, change))
    assert message.startswith("prompts[1].versions[1].content.messages[1].content[0].type: unknown part type")


@pytest.mark.django_db
def test_unknown_asset_keys_and_sections_are_refused(team: Any) -> None:
    document = {
        "format": "mps-export",
        "format_version": 1,
        "datasets": [{"name": "D", "columns": [{"name": "p", "type": "image"}], "rows": [{"p": {"asset": "abc"}}]}],
    }
    message = refuse(team, json.dumps(document).encode(), "d.json")
    assert message == "datasets[0].rows[0].p.asset: refers to asset 'abc', which is not in the export's assets."
    message = refuse(team, json.dumps({**document, "widgets": []}).encode(), "d.json")
    assert message.startswith("The export contains 'widgets', which this studio can't import")


@pytest.mark.django_db
def test_files_over_the_import_limit_are_refused(team: Any, settings: Any) -> None:
    settings.EXPORTS_IMPORT_MAX_BYTES = 100
    assert (
        refuse(team, b"{" + b" " * 200 + b"}", "big.json") == "The file is 202 bytes; imports may be at most 100 bytes."
    )


@pytest.mark.django_db
def test_not_an_export_is_refused(team: Any) -> None:
    assert refuse(team, b'{"hello": 1}', "x.json") == formats.NOT_AN_EXPORT
    assert refuse(team, zip_of({"readme.txt": "hi"})) == archive_module.ZIP_NO_MANIFEST


@pytest.mark.django_db
def test_impossible_numbers_are_refused_not_crashed_on(good_archive: bytes, team: Any) -> None:
    def change(entries: dict[str, bytes]) -> None:
        tests = json.loads(entries["abtests.json"])
        tests[0]["trials"][0]["latency_ms"] = -5
        entries["abtests.json"] = json.dumps(tests).encode()

    assert (
        refuse(team, rebuilt(good_archive, change)) == "abtests[0].trials[0].latency_ms: must be a non-negative number."
    )
    document = b'{"format": "mps-export", "format_version": 1, "runs": [{"retry_after": NaN}]}'
    assert refuse(team, document, "r.json") == "The JSON is malformed at line 1, column 1: NaN is not a JSON number."
