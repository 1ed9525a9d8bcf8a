"""Dataset import: CSV, JSONL, ZIP with media; previews; and the bad-import suite (nothing saved)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from abtests import services
from abtests.datasets import DatasetError
from abtests.importers import PREVIEW_ROWS, ImportResult
from abtests.models import Dataset, DatasetRow
from abtests.tests.conftest import stored_files
from conftest import Team
from prompts.models import Asset, AssetKind
from prompts.tests.factories import AssetFactory
from prompts.tests.media import image_bytes, wav_bytes

pytestmark = pytest.mark.django_db


def upload(name: str, data: bytes | str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data)


def run_import(team: Team, file_name: str, data: bytes | str, **kwargs: Any) -> ImportResult:
    kwargs.setdefault("name", "Imported")
    result: ImportResult = services.dataset_import(
        workspace=team.workspace, user=team.editor, upload=upload(file_name, data), **kwargs
    )
    return result


def make_zip(entries: dict[str, bytes | str], *, symlinks: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def refused(team: Team, file_name: str, data: bytes | str, **kwargs: Any) -> str:
    with pytest.raises(DatasetError) as info:
        run_import(team, file_name, data, **kwargs)
    return str(info.value)


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_import_infers_types_and_saves_rows(team: Team) -> None:
    asset = AssetFactory(workspace=team.workspace)
    csv_text = (
        "question,expected,price,meta,photo,zip\n"
        f'"What is 2+2, roughly?",4,1.5,"{{""a"": 1}}",{asset.pk},007\n'
        'Sky colour?,blue,2,"[1, 2]",https://example.com/sky.jpg,010\n'
    )
    result = run_import(team, "quiz.csv", csv_text)
    assert result.format == "csv"
    assert result.columns == [
        {"name": "question", "type": "text"},
        {"name": "expected", "type": "text"},
        {"name": "price", "type": "number"},
        {"name": "meta", "type": "json"},
        {"name": "photo", "type": "image"},
        {"name": "zip", "type": "text"},
    ]
    dataset = result.dataset
    assert dataset is not None and dataset.name == "Imported" and dataset.created_by == team.editor
    values = list(dataset.rows.order_by("index").values_list("values", flat=True))
    assert values[0] == {
        "question": "What is 2+2, roughly?",
        "expected": "4",
        "price": 1.5,
        "meta": {"a": 1},
        "photo": {"asset": str(asset.pk)},
        "zip": "007",
    }
    assert values[1]["photo"] == {"url": "https://example.com/sky.jpg"}
    assert values[1]["price"] == 2


def test_dry_run_previews_without_saving(team: Team) -> None:
    rows = "\n".join(f"q{i},{i}" for i in range(30))
    result = run_import(team, "big.csv", "question,n\n" + rows + "\n", dry_run=True)
    assert result.dry_run
    assert result.row_count == 30
    assert len(result.preview) == PREVIEW_ROWS
    assert result.preview[0] == {"question": "q0", "n": 0}
    assert result.columns == [{"name": "question", "type": "text"}, {"name": "n", "type": "number"}]
    assert not Dataset.objects.exists()


def test_given_column_types_override_inference(team: Team) -> None:
    result = run_import(team, "codes.csv", "code,amount\n12,3\n", columns='{"code": "text", "amount": "json"}')
    assert result.columns == [{"name": "code", "type": "text"}, {"name": "amount", "type": "json"}]
    assert result.preview == [{"code": "12", "amount": 3}]


def test_semicolon_and_tab_separated_files_and_bom_are_read(team: Team) -> None:
    semi = run_import(team, "semi.csv", "\ufeffa;b\n1,5;x\n", dry_run=True)
    assert semi.preview == [{"a": "1,5", "b": "x"}]
    tab = run_import(team, "tab.tsv", "a\tb\nx\ty\n", dry_run=True)
    assert tab.preview == [{"a": "x", "b": "y"}]


def test_dataset_name_defaults_to_the_file_name(team: Team) -> None:
    result = run_import(team, "support tickets.csv", "q\nhello\n", name="")
    assert result.dataset is not None and result.dataset.name == "support tickets"


# --- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_import_keeps_json_types(team: Team) -> None:
    lines = [
        {"question": "a", "n": 1, "tags": ["x"], "photo": "https://example.com/a.png"},
        {"question": "b", "n": 2.5, "tags": {"k": 1}, "photo": {"url": "https://example.com/b.webp"}},
        {"question": "c"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    result = run_import(team, "rows.jsonl", text)
    assert result.columns == [
        {"name": "question", "type": "text"},
        {"name": "n", "type": "number"},
        {"name": "tags", "type": "json"},
        {"name": "photo", "type": "image"},
    ]
    assert result.preview[1] == {
        "question": "b",
        "n": 2.5,
        "tags": {"k": 1},
        "photo": {"url": "https://example.com/b.webp"},
    }
    assert result.preview[2] == {"question": "c", "n": None, "tags": None, "photo": None}


def test_jsonl_values_follow_given_column_types(team: Team) -> None:
    text = '{"code": 12, "n": "3.5", "meta": "plain"}\n{"code": {"a": 1}, "n": 4, "meta": [1]}\n'
    result = run_import(team, "r.jsonl", text, columns={"code": "text", "n": "number", "meta": "json"}, dry_run=True)
    assert result.preview == [
        {"code": "12", "n": 3.5, "meta": "plain"},
        {"code": '{"a": 1}', "n": 4, "meta": [1]},
    ]
    message = refused(team, "r.jsonl", '{"n": "many"}\n', columns={"n": "number"})
    assert message == "row 1, column n: 'many' is not a number"


def test_format_is_detected_from_content_without_an_extension(team: Team) -> None:
    assert run_import(team, "data", '{"a": 1}\n', dry_run=True).format == "jsonl"
    assert run_import(team, "data", "a,b\n1,2\n", dry_run=True).format == "csv"


# --- ZIP -----------------------------------------------------------------------------------------


def test_zip_import_uploads_named_files_as_assets(team: Team, media_root: Path) -> None:
    data = make_zip(
        {
            "set/rows.csv": "question,photo,clip\nWhat is it?,images/cat.png,a.wav\nAnd this?,images/dog.jpg,\n",
            "set/images/cat.png": image_bytes("PNG"),
            "set/images/dog.jpg": image_bytes("JPEG", color=(9, 9, 9)),
            "set/a.wav": wav_bytes(),
            "__MACOSX/._rows.csv": b"junk",
            "set/.DS_Store": b"junk",
        }
    )
    preview = run_import(team, "media.zip", data, dry_run=True)
    assert preview.format == "zip"
    assert preview.columns[1:] == [{"name": "photo", "type": "image"}, {"name": "clip", "type": "audio"}]
    assert preview.preview[0]["photo"] == {"file": "images/cat.png"}
    assert preview.files == ["a.wav", "images/cat.png", "images/dog.jpg"]
    assert not Asset.objects.exists() and stored_files(media_root) == []

    result = run_import(team, "media.zip", data)
    assert Asset.objects.filter(workspace=team.workspace).count() == 3
    rows = list(result.dataset.rows.order_by("index").values_list("values", flat=True))  # type: ignore[union-attr]
    cat = Asset.objects.get(original_name="cat.png")
    assert rows[0]["photo"] == {"asset": str(cat.pk)} and cat.kind == AssetKind.IMAGE
    assert rows[1]["clip"] is None
    assert result.preview[0]["photo"] == {"asset": str(cat.pk)}


def test_json_cells_that_look_like_file_references_stay_json(team: Team) -> None:
    data = make_zip({"rows.jsonl": '{"photo": "a.png", "meta": {"file": "a.png"}}\n', "a.png": image_bytes("PNG")})
    result = run_import(team, "r.zip", data)
    (values,) = result.preview
    assert values["meta"] == {"file": "a.png"}
    assert set(values["photo"]) == {"asset"}


def test_zip_reuses_an_existing_asset_with_the_same_bytes(team: Team) -> None:
    png = image_bytes("PNG")
    run_import(team, "one.zip", make_zip({"rows.csv": "photo\na.png\n", "a.png": png}), name="One")
    run_import(team, "two.zip", make_zip({"rows.csv": "photo\nb.png\n", "b.png": png}), name="Two")
    assert Asset.objects.count() == 1


# --- the bad-import suite: a clear message and nothing saved --------------------------------------


@pytest.fixture
def nothing_saved(team: Team, media_root: Path) -> Any:
    yield
    assert not Dataset.objects.exists()
    assert not DatasetRow.objects.exists()
    assert not Asset.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.usefixtures("nothing_saved")
class TestBadImports:
    def test_ragged_csv_row(self, team: Team) -> None:
        message = refused(team, "r.csv", "a,b,c\n1,2,3\n4,5\n")
        assert message == "row 2: expected 3 cells (like the header), found 2"

    def test_bad_json_line(self, team: Team) -> None:
        message = refused(team, "r.jsonl", '{"a": 1}\n{"a": 2,}\n')
        assert message.startswith("line 2: not valid JSON (")

    def test_json_line_that_is_not_an_object(self, team: Team) -> None:
        assert refused(team, "r.jsonl", '{"a": 1}\n[1, 2]\n').startswith("line 2: each line must be a JSON object")

    def test_unknown_asset_names_row_and_column(self, team: Team) -> None:
        asset = AssetFactory(workspace=team.workspace)
        csv_text = f"q,photo\na,{asset.pk}\nb,{asset.pk}\nc,123\n"
        assert refused(team, "r.csv", csv_text) == "row 3, column photo: unknown asset 123"
        asset.delete()

    def test_unknown_asset_with_declared_type(self, team: Team) -> None:
        assert refused(team, "r.csv", "q,photo\na,123\n", columns={"photo": "image"}) == (
            "row 1, column photo: unknown asset 123"
        )

    def test_another_workspaces_asset(self, team: Team) -> None:
        mine = AssetFactory(workspace=team.workspace)
        theirs = AssetFactory(workspace=team.other_workspace)
        message = refused(team, "r.csv", f"photo\n{mine.pk}\n{theirs.pk}\n")
        assert message == f"row 2, column photo: unknown asset {theirs.pk}"
        mine.delete()
        theirs.delete()

    def test_path_traversal_in_zip(self, team: Team) -> None:
        data = make_zip({"rows.csv": "photo\n../evil.png\n", "../evil.png": image_bytes()})
        assert refused(team, "r.zip", data) == "The ZIP contains an unsafe path: ../evil.png"

    @pytest.mark.parametrize("name", ["/etc/evil.png", "a/../../evil.png", "C:/evil.png", "a\\..\\evil.png"])
    def test_other_unsafe_zip_paths(self, team: Team, name: str) -> None:
        data = make_zip({"rows.csv": "q\na\n", name: b"x"})
        assert refused(team, "r.zip", data).startswith("The ZIP contains an unsafe path: ")

    def test_symlink_in_zip(self, team: Team) -> None:
        data = make_zip({"rows.csv": "q\na\n", "link.png": "/etc/passwd"}, symlinks=("link.png",))
        assert refused(team, "r.zip", data) == "The ZIP contains a symbolic link: link.png"

    def test_oversize_file(self, team: Team, settings: Any) -> None:
        settings.DATASET_IMPORT_MAX_BYTES = 100
        assert refused(team, "r.csv", "q\n" + "a\n" * 100) == "The file is 202 bytes; imports may be at most 100 bytes."

    def test_zip_that_expands_too_much(self, team: Team, settings: Any) -> None:
        settings.DATASET_ZIP_MAX_UNCOMPRESSED_BYTES = 10_000
        data = make_zip({"rows.csv": "q\na\n", "big.png": b"\0" * 50_000})
        assert len(data) < 10_000
        assert refused(team, "r.zip", data).startswith("The ZIP would expand to ")

    def test_zip_with_too_many_files(self, team: Team, settings: Any) -> None:
        settings.DATASET_ZIP_MAX_FILES = 3
        entries: dict[str, bytes | str] = {"rows.csv": "q\na\n", **{f"{i}.png": b"x" for i in range(3)}}
        assert refused(team, "r.zip", make_zip(entries)) == "The ZIP has 4 files; at most 3 are allowed."

    def test_too_many_rows(self, team: Team, settings: Any) -> None:
        settings.DATASET_MAX_ROWS = 3
        message = refused(team, "r.csv", "q\n" + "a\n" * 4)
        assert message == "The file has more than 3 rows; a dataset may have at most 3."

    def test_cell_too_long(self, team: Team, settings: Any) -> None:
        settings.DATASET_MAX_CELL_CHARS = 10
        message = refused(team, "r.csv", "q,a\nshort,x\nfine," + "y" * 11 + "\n")
        assert message == "row 2, column a: the value has 11 characters; cells may have at most 10"

    def test_not_utf8(self, team: Team) -> None:
        message = refused(team, "r.csv", "q\nok\ncaf\xe9\n".encode("latin-1"))
        assert message == (
            "The file is not valid UTF-8 (line 3: byte 0xe9 can't be decoded). Save it as UTF-8 and try again."
        )

    def test_binary_file(self, team: Team) -> None:
        assert refused(team, "r.csv", b"q\x00\x01\n") == (
            "The file contains NUL bytes; it looks like a binary file, not CSV or JSONL."
        )

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("q,first name", "header, column 2: 'first name' is not a valid variable name"),
            ("q,,b", "header, column 2: the column has no name"),
            ("q,q", "header, column 2: column 'q' appears twice"),
        ],
    )
    def test_bad_header(self, team: Team, header: str, message: str) -> None:
        assert refused(team, "r.csv", header + "\n" + ",".join("x" * len(header.split(","))) + "\n").startswith(message)

    def test_empty_and_header_only_files(self, team: Team) -> None:
        assert refused(team, "r.csv", "") == "The file is empty."
        assert refused(team, "r.csv", "a,b\n") == "The file has a header but no rows."
        assert refused(team, "r.jsonl", "\n\n") == "The file is empty."

    def test_number_column_with_text(self, team: Team) -> None:
        message = refused(team, "r.csv", "n\n1\nlots\n", columns={"n": "number"})
        assert message == "row 2, column n: 'lots' is not a number"

    def test_unknown_given_column(self, team: Team) -> None:
        assert refused(team, "r.csv", "q\na\n", columns={"photo": "image"}) == (
            "columns: the file has no column named 'photo'"
        )

    def test_unknown_file_type(self, team: Team) -> None:
        xlsx = make_zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
        assert refused(team, "r.xlsx", xlsx) == "Upload a .csv, .jsonl or .zip file."

    def test_zip_without_a_table(self, team: Team) -> None:
        assert refused(team, "r.zip", make_zip({"a.png": image_bytes()})) == (
            "The ZIP has no .csv or .jsonl file that lists the rows."
        )

    def test_zip_with_two_tables(self, team: Team) -> None:
        message = refused(team, "r.zip", make_zip({"a.csv": "q\na\n", "b.jsonl": '{"q": 1}\n'}))
        assert message == "The ZIP has more than one .csv/.jsonl file (a.csv, b.jsonl); keep exactly one."

    def test_zip_naming_a_missing_file(self, team: Team) -> None:
        data = make_zip({"rows.csv": "photo\ncat.png\nmissing.png\n", "cat.png": image_bytes()})
        assert refused(team, "r.zip", data) == (
            "row 2, column photo: no file named missing.png in the ZIP, and it is not an asset id or URL"
        )

    def test_zip_file_that_is_not_what_its_name_says(self, team: Team) -> None:
        data = make_zip({"rows.csv": "photo\ncat.png\n", "cat.png": b"<html><script>alert(1)</script></html>"})
        message = refused(team, "r.zip", data)
        assert message.startswith("row 1, column photo: file cat.png: ")
        assert "script" in message

    def test_zip_file_of_the_wrong_kind(self, team: Team) -> None:
        data = make_zip({"rows.csv": "photo\nclip.png\n", "clip.png": wav_bytes()})
        assert refused(team, "r.zip", data) == "row 1, column photo: file clip.png is an audio file, not image"

    def test_zip_mixing_media_kinds_in_one_column(self, team: Team) -> None:
        data = make_zip({"rows.csv": "m\na.png\nb.wav\n", "a.png": image_bytes(), "b.wav": wav_bytes()})
        assert refused(team, "r.zip", data) == (
            "column m: mixes audio and image files; a column holds one kind (give its type in columns)"
        )

    def test_corrupt_zip(self, team: Team) -> None:
        assert refused(team, "r.zip", b"PK\x03\x04 definitely not a zip").startswith("The ZIP file can't be read")

    def test_failure_after_uploads_removes_stored_files(self, team: Team, monkeypatch: Any) -> None:
        """A failure at the last step (saving the rows) rolls back the assets and deletes their files."""
        from abtests import services as dataset_services

        def boom(**kwargs: Any) -> None:
            raise DatasetError("database went away")

        monkeypatch.setattr(dataset_services, "dataset_create", boom)
        data = make_zip({"rows.csv": "photo\na.png\n", "a.png": image_bytes()})
        assert refused(team, "r.zip", data) == "database went away"


def test_name_taken_is_refused_before_anything_is_read(team: Team) -> None:
    run_import(team, "a.csv", "q\na\n", name="Same")
    assert refused(team, "b.csv", "q\nb\n", name="Same") == "A dataset named 'Same' already exists in this workspace."
    assert Dataset.objects.count() == 1
