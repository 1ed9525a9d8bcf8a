"""Import a dataset from CSV, JSONL, or a ZIP holding one CSV/JSONL file plus the media it names.

``import_dataset(workspace=..., user=..., name=..., upload=..., dry_run=...)``:

* the format comes from the file name (``.csv``/``.tsv``, ``.jsonl``/``.ndjson``, ``.zip``) or, failing
  that, from the content;
* columns become variables: CSV header cells / JSONL keys must be valid variable names; types are
  inferred unless given as ``columns`` (``{"photo": "image"}`` or ``[{"name": ..., "type": ...}]``):
  number when every value is one (not ``007``), json for objects/lists, a media type when values name
  ZIP files or the workspace's assets (the column's other values must then be media too) or are all
  http(s) URLs ending in one media kind's extension, else text. The preview shows what was inferred;
* media cells are asset ids of the same workspace, http(s) URLs, or (in a ZIP) file names inside the
  ZIP, which are uploaded through ``prompts.services.asset_create`` (checked by content);
* ``dry_run`` checks everything (media files included) and returns the detected columns and the first
  rows, saving nothing;
* every refusal is a ``DatasetError`` naming the row and column (``row 7, column photo: unknown asset
  123``), and an import never half-applies: one transaction, and files stored for a failed import are
  removed again.

Limits (settings, see ``abtests.datasets.DEFAULT_LIMITS``): file bytes, rows, columns, cell length,
and for ZIPs the number of entries and their total uncompressed size. ZIP entries with absolute
paths, ``..`` components, drive letters, symlinks or encryption are refused outright.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import posixpath
import stat
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from abtests.datasets import (
    DatasetError,
    asset_kinds,
    clean_column_name,
    clean_columns,
    clean_row,
    convert,
    from_text,
    is_uuid,
    limit,
    parse_number,
)
from abtests.models import MEDIA_COLUMN_TYPES, Dataset, DatasetRow
from accounts.models import User, Workspace
from prompts.assets import AssetError, human_size, inspect_upload
from prompts.content import media_reference

PREVIEW_ROWS = 20

# Messages.
EMPTY_FILE = "The file is empty."
NO_ROWS = "The file has a header but no rows."
FILE_TOO_LARGE = "The file is {size}; imports may be at most {limit}."
NOT_UTF8 = "The file is not valid UTF-8 (line {line}: {error}). Save it as UTF-8 and try again."
BINARY_FILE = "The file contains NUL bytes; it looks like a binary file, not CSV or JSONL."
UNKNOWN_FORMAT = "Upload a .csv, .jsonl or .zip file."
TOO_MANY_ROWS = "The file has more than {limit} rows; a dataset may have at most {limit}."
RAGGED_ROW = "row {row}: expected {expected} cells (like the header), found {found}"
BAD_CSV = "row {row}: the CSV can't be read ({error})"
HEADER_EMPTY_NAME = "header, column {position}: the column has no name"
HEADER_BAD_NAME = "header, column {position}: {reason}"
BAD_JSON_LINE = "line {line}: not valid JSON ({error})"
JSON_LINE_NOT_OBJECT = 'line {line}: each line must be a JSON object like {{"question": "..."}}'
NO_COLUMNS = "The file has no columns."
GIVEN_UNKNOWN_COLUMN = "columns: the file has no column named {name!r}"
BAD_GIVEN_COLUMNS = 'columns must be an object like {"photo": "image"} or a list of {"name", "type"} objects.'
MIXED_MEDIA = "column {name}: mixes {kinds} files; a column holds one kind (give its type in columns)"

ZIP_BAD = "The ZIP file can't be read ({error})."
ZIP_UNSAFE_PATH = "The ZIP contains an unsafe path: {name}"
ZIP_SYMLINK = "The ZIP contains a symbolic link: {name}"
ZIP_ENCRYPTED = "The ZIP contains an encrypted file: {name}"
ZIP_TOO_MANY_FILES = "The ZIP has {count} files; at most {limit} are allowed."
ZIP_TOO_LARGE = "The ZIP would expand to {size}; at most {limit} is allowed."
ZIP_NO_TABLE = "The ZIP has no .csv or .jsonl file that lists the rows."
ZIP_MANY_TABLES = "The ZIP has more than one .csv/.jsonl file ({names}); keep exactly one."
ZIP_FILE_UNREADABLE = "row {row}, column {column}: file {name} can't be read from the ZIP ({error})"
ZIP_FILE_REFUSED = "row {row}, column {column}: file {name}: {reason}"
ZIP_FILE_WRONG_KIND = "row {row}, column {column}: file {name} is {actual} file, not {kind}"

TABLE_EXTENSIONS = {"csv": "csv", "tsv": "csv", "txt": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}
MEDIA_EXTENSIONS = {
    "png": "image",
    "jpg": "image",
    "jpeg": "image",
    "webp": "image",
    "gif": "image",
    "mp3": "audio",
    "wav": "audio",
    "pdf": "document",
}


@dataclass
class ImportResult:
    """What an import found (dry run) or made."""

    format: str
    columns: list[dict[str, str]]
    row_count: int
    preview: list[dict[str, Any]]
    files: list[str] = field(default_factory=list)
    dataset: Dataset | None = None

    @property
    def dry_run(self) -> bool:
        return self.dataset is None


@dataclass
class _Table:
    names: list[str]
    rows: list[dict[str, Any]]  # raw values keyed by column name (CSV: strings; JSONL: JSON values)
    typed: bool  # JSONL values are already typed


# --- reading the upload --------------------------------------------------------------------------


def _read(upload: Any) -> tuple[str, bytes]:
    """(file name, bytes) of an uploaded file, bytes, or file-like object, refusing oversize input early."""
    maximum = limit("DATASET_IMPORT_MAX_BYTES")
    if isinstance(upload, bytes | bytearray):
        name, data = "", bytes(upload)
    else:
        name = getattr(upload, "name", "") or ""
        size = getattr(upload, "size", None)
        if size is not None and size > maximum:
            raise DatasetError(FILE_TOO_LARGE.format(size=human_size(size), limit=human_size(maximum)))
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(maximum + 1)  # never more than the limit, whatever the client claimed
    if len(data) > maximum:
        raise DatasetError(FILE_TOO_LARGE.format(size=f"over {human_size(maximum)}", limit=human_size(maximum)))
    if not data:
        raise DatasetError(EMPTY_FILE)
    return posixpath.basename(str(name).replace("\\", "/")), data


def _format_of(name: str, data: bytes) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension and extension != "zip" and extension not in TABLE_EXTENSIONS:
        raise DatasetError(UNKNOWN_FORMAT)  # .xlsx is a ZIP too, but not ours
    if extension == "zip" or data.startswith(b"PK\x03\x04"):
        return "zip"
    if extension:
        return TABLE_EXTENSIONS[extension]
    return "jsonl" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise DatasetError(BINARY_FILE)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = f"byte 0x{data[exc.start]:02x} can't be decoded"
        raise DatasetError(NOT_UTF8.format(line=line, error=reason)) from None


# --- parsing -------------------------------------------------------------------------------------


def _check_row_count(count: int) -> None:
    maximum = limit("DATASET_MAX_ROWS")
    if count > maximum:
        raise DatasetError(TOO_MANY_ROWS.format(limit=maximum))


def _header(cells: list[str]) -> list[str]:
    names: list[str] = []
    for position, cell in enumerate(cells, start=1):
        name = cell.strip()
        if not name:
            raise DatasetError(HEADER_EMPTY_NAME.format(position=position))
        try:
            clean_column_name(name, path="name")
        except DatasetError as exc:
            raise DatasetError(
                HEADER_BAD_NAME.format(position=position, reason=str(exc).removeprefix("name: "))
            ) from None
        if name in names:
            raise DatasetError(HEADER_BAD_NAME.format(position=position, reason=f"column {name!r} appears twice"))
        names.append(name)
    if len(names) > limit("DATASET_MAX_COLUMNS"):
        raise DatasetError(f"The file has {len(names)} columns; at most {limit('DATASET_MAX_COLUMNS')} are allowed.")
    return names


def _parse_csv(text: str) -> _Table:
    # Header cells are variable names, so the header line alone tells the delimiter reliably.
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cell_limit = limit("DATASET_MAX_CELL_CHARS")
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise DatasetError(EMPTY_FILE)
        names = _header(header)
        rows: list[dict[str, Any]] = []
        row_number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise DatasetError(BAD_CSV.format(row=row_number + 1, error=exc)) from None
            if not cells or (len(cells) == 1 and not cells[0].strip() and len(names) > 1):
                continue  # blank line
            row_number += 1
            _check_row_count(row_number)
            if len(cells) != len(names):
                raise DatasetError(RAGGED_ROW.format(row=row_number, expected=len(names), found=len(cells)))
            for name, cell in zip(names, cells, strict=True):
                if len(cell) > cell_limit:
                    raise DatasetError(
                        f"row {row_number}, column {name}: the value has {len(cell)} characters; "
                        f"cells may have at most {cell_limit}"
                    )
            rows.append(dict(zip(names, cells, strict=True)))
    except csv.Error as exc:  # in the header
        raise DatasetError(BAD_CSV.format(row=0, error=exc).replace("row 0", "header")) from None
    if not rows:
        raise DatasetError(NO_ROWS)
    return _Table(names=names, rows=rows, typed=False)


def _parse_jsonl(text: str) -> _Table:
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DatasetError(BAD_JSON_LINE.format(line=line_number, error=exc)) from None
        if not isinstance(value, dict):
            raise DatasetError(JSON_LINE_NOT_OBJECT.format(line=line_number))
        _check_row_count(len(rows) + 1)
        for key in value:
            if key not in names:
                try:
                    clean_column_name(key, path="name")
                except DatasetError as exc:
                    raise DatasetError(f"line {line_number}, key {key!r}: " + str(exc).removeprefix("name: ")) from None
                names.append(key)
                if len(names) > limit("DATASET_MAX_COLUMNS"):
                    raise DatasetError(f"The file has more than {limit('DATASET_MAX_COLUMNS')} keys (columns).")
        rows.append(value)
    if not rows:
        raise DatasetError(EMPTY_FILE)
    return _Table(names=names, rows=rows, typed=True)


# --- ZIP -----------------------------------------------------------------------------------------


def _safe_entry_name(name: str) -> str | None:
    """The entry's normalised relative path, or None when it could escape the extraction folder."""
    if "\\" in name or name.startswith("/") or "\x00" in name:
        return None
    if len(name) >= 2 and name[1] == ":":
        return None
    parts = name.split("/")
    if any(part == ".." for part in parts):
        return None
    normalised = posixpath.normpath(name)
    if normalised.startswith("../") or normalised == ".." or posixpath.isabs(normalised):
        return None
    return normalised


def _ignored(path: str) -> bool:
    parts = path.split("/")
    return parts[0] == "__MACOSX" or parts[-1].startswith(".")


@dataclass
class _Zip:
    archive: zipfile.ZipFile
    table_name: str
    table_bytes: bytes
    files: dict[str, zipfile.ZipInfo]  # name as the table refers to it -> entry
    kinds: dict[str, str]  # name -> media kind by extension ("other" when not a media type)


def _open_zip(data: bytes) -> _Zip:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise DatasetError(ZIP_BAD.format(error=exc)) from None
    entries = [i for i in infos if not i.is_dir()]
    if len(entries) > limit("DATASET_ZIP_MAX_FILES"):
        raise DatasetError(ZIP_TOO_MANY_FILES.format(count=len(entries), limit=limit("DATASET_ZIP_MAX_FILES")))
    total = 0
    paths: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        safe = _safe_entry_name(info.filename)
        if safe is None:
            raise DatasetError(ZIP_UNSAFE_PATH.format(name=info.filename))
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DatasetError(ZIP_SYMLINK.format(name=info.filename))
        if info.flag_bits & 0x1:
            raise DatasetError(ZIP_ENCRYPTED.format(name=info.filename))
        if info.is_dir() or _ignored(safe):
            continue
        total += info.file_size
        paths[safe] = info
    maximum = limit("DATASET_ZIP_MAX_UNCOMPRESSED_BYTES")
    if total > maximum:
        raise DatasetError(ZIP_TOO_LARGE.format(size=human_size(total), limit=human_size(maximum)))
    tables = [p for p in paths if p.rsplit(".", 1)[-1].lower() in TABLE_EXTENSIONS and "." in p]
    if not tables:
        raise DatasetError(ZIP_NO_TABLE)
    if len(tables) > 1:
        raise DatasetError(ZIP_MANY_TABLES.format(names=", ".join(sorted(tables))))
    table_name = tables[0]
    table_bytes = _read_entry(archive, paths[table_name], limit("DATASET_IMPORT_MAX_BYTES"))
    folder = posixpath.dirname(table_name)
    files: dict[str, zipfile.ZipInfo] = {}
    for path, info in paths.items():
        if path == table_name:
            continue
        files[path] = info
        if folder and path.startswith(folder + "/"):
            files.setdefault(path[len(folder) + 1 :], info)
    kinds = {name: MEDIA_EXTENSIONS.get(name.rsplit(".", 1)[-1].lower(), "other") for name in files}
    return _Zip(archive=archive, table_name=table_name, table_bytes=table_bytes, files=files, kinds=kinds)


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, maximum: int) -> bytes:
    """An entry's bytes, never more than ``maximum`` (the header's size is not trusted)."""
    if info.file_size > maximum:
        raise DatasetError(FILE_TOO_LARGE.format(size=human_size(info.file_size), limit=human_size(maximum)))
    try:
        with archive.open(info) as handle:
            data = handle.read(maximum + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        raise DatasetError(ZIP_BAD.format(error=exc)) from None
    if len(data) > maximum:
        raise DatasetError(FILE_TOO_LARGE.format(size=f"over {human_size(maximum)}", limit=human_size(maximum)))
    return data


# --- column types --------------------------------------------------------------------------------


def _given_types(columns: Any) -> dict[str, str]:
    if columns in (None, "", {}):
        return {}
    if isinstance(columns, str):
        try:
            columns = json.loads(columns)
        except ValueError:
            raise DatasetError(BAD_GIVEN_COLUMNS) from None
    if isinstance(columns, dict):
        columns = [{"name": k, "type": v} for k, v in columns.items()]
    if not isinstance(columns, list):
        raise DatasetError(BAD_GIVEN_COLUMNS)
    return {c["name"]: c["type"] for c in clean_columns(columns)}


def _media_kind_of_url(value: str) -> str | None:
    path = urlsplit(value).path.lower()
    extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return MEDIA_EXTENSIONS.get(extension)


def _infer(name: str, values: list[Any], *, typed: bool, files: dict[str, str] | None, assets: dict[str, str]) -> str:
    """A column's type from its non-empty values (see the module docstring)."""
    present = [v for v in values if v is not None and not (isinstance(v, str) and not v.strip())]
    if not present:
        return "text"
    if typed:
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            return "number"
        if any(not isinstance(v, str) and media_reference(v) is None for v in present):
            return "json"
        strings = [v if isinstance(v, str) else next(iter(v.values())) for v in present]
    else:
        strings = [v.strip() for v in present]
        if all(_plain_number(v) for v in strings):
            return "number"
        if all(v[:1] in "{[" and _is_json(v) for v in strings):
            return "json"
    # Media: a value naming a ZIP file or one of the workspace's assets makes it a media column (the
    # other values are then checked as media and refused by row); URLs alone must all look like media.
    anchored: set[str] = set()
    url_kinds: set[str | None] = set()
    for value in strings:
        if files is not None and value in files:
            anchored.add(files[value])
        elif is_uuid(value) and str(uuid.UUID(value)) in assets:
            anchored.add(assets[str(uuid.UUID(value))])
        elif media_reference(value) is not None and not is_uuid(value):
            url_kinds.add(_media_kind_of_url(value))
    if anchored:
        kinds = anchored | {k for k in url_kinds if k}
        if len(kinds) > 1:
            raise DatasetError(MIXED_MEDIA.format(name=name, kinds=" and ".join(sorted(kinds))))
        kind = kinds.pop()
        return kind if kind in MEDIA_COLUMN_TYPES else "text"
    if url_kinds and len(url_kinds) == 1 and None not in url_kinds and all(media_reference(v) for v in strings):
        kind = url_kinds.pop()
        return kind if kind in MEDIA_COLUMN_TYPES else "text"
    return "text"


def _plain_number(text: str) -> bool:
    if text.lstrip("-+")[:1] == "0" and len(text.lstrip("-+")) > 1 and text.lstrip("-+")[1:2].isdigit():
        return False  # "007", a code, not a number
    return parse_number(text) is not None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


# --- the import ----------------------------------------------------------------------------------


def import_dataset(
    *,
    workspace: Workspace,
    user: User | None,
    name: str | None,
    upload: Any,
    description: str = "",
    columns: Any = None,
    dry_run: bool = False,
) -> ImportResult:
    from abtests.services import _clean_name, check_name_free

    file_name, data = _read(upload)
    fmt = _format_of(file_name, data)
    name = _clean_name(name if name else (file_name.rsplit(".", 1)[0] if file_name else ""))
    if not dry_run:
        check_name_free(workspace_id=workspace.pk, name=name)
    given = _given_types(columns)

    archive: _Zip | None = None
    if fmt == "zip":
        archive = _open_zip(data)
        table_name = posixpath.basename(archive.table_name)
        table_format = TABLE_EXTENSIONS[table_name.rsplit(".", 1)[-1].lower()]
        text = _decode(archive.table_bytes)
    else:
        table_format = fmt
        text = _decode(data)
    table = _parse_csv(text) if table_format == "csv" else _parse_jsonl(text)
    if not table.names:
        raise DatasetError(NO_COLUMNS)
    for column in given:
        if column not in table.names:
            raise DatasetError(GIVEN_UNKNOWN_COLUMN.format(name=column))

    # One query for every asset id anywhere in the file (used by inference and validation).
    candidates: set[str] = set()
    for row in table.rows:
        for value in row.values():
            ref = media_reference(value.strip() if isinstance(value, str) else value)
            if ref and "asset" in ref:
                candidates.add(ref["asset"])
    assets = asset_kinds(workspace.pk, candidates)
    zip_kinds = archive.kinds if archive else None

    column_list = [
        {
            "name": column,
            "type": given.get(column)
            or _infer(column, [r.get(column) for r in table.rows], typed=table.typed, files=zip_kinds, assets=assets),
        }
        for column in table.names
    ]
    column_list = clean_columns(column_list)

    cleaned: list[dict[str, Any]] = []
    for number, raw in enumerate(table.rows, start=1):
        values: dict[str, Any] = {}
        for column in column_list:
            value = raw.get(column["name"])
            if not table.typed and isinstance(value, str):
                value = from_text(column["type"], value, row=number, column=column["name"])
            elif column["type"] == "text" and value is not None and not isinstance(value, str):
                value = convert("text", value, row=number, column=column["name"])  # JSONL 12 in a text column
            elif column["type"] == "number" and isinstance(value, str):
                value = from_text("number", value, row=number, column=column["name"])  # JSONL "12"
            values[column["name"]] = value
        cleaned.append(clean_row(values, column_list, row=number, kinds=assets, files=zip_kinds))

    # Media files named by the rows: read each once, check its content, remember the first place used.
    media_columns = [c["name"] for c in column_list if c["type"] in MEDIA_COLUMN_TYPES]
    used: dict[str, tuple[int, str]] = {}
    for number, values in enumerate(cleaned, start=1):
        for column_name in media_columns:
            value = values[column_name]
            if isinstance(value, dict) and "file" in value:
                used.setdefault(value["file"], (number, column_name))
    payloads: dict[str, bytes] = {}
    if archive is not None:
        types = {c["name"]: c["type"] for c in column_list}
        for file_name_in_zip, (number, column_name) in used.items():
            info = archive.files[file_name_in_zip]
            try:
                payload = _read_entry(archive.archive, info, limit("DATASET_IMPORT_MAX_BYTES"))
            except DatasetError as exc:
                raise DatasetError(
                    ZIP_FILE_UNREADABLE.format(row=number, column=column_name, name=file_name_in_zip, error=exc)
                ) from None
            try:
                checked = inspect_upload(payload)
            except AssetError as exc:
                raise DatasetError(
                    ZIP_FILE_REFUSED.format(row=number, column=column_name, name=file_name_in_zip, reason=exc)
                ) from None
            if checked.kind != types[column_name]:
                article = "an" if checked.kind[:1] in "aeiou" else "a"
                raise DatasetError(
                    ZIP_FILE_WRONG_KIND.format(
                        row=number,
                        column=column_name,
                        name=file_name_in_zip,
                        actual=f"{article} {checked.kind}",
                        kind=types[column_name],
                    )
                )
            payloads[file_name_in_zip] = payload

    result = ImportResult(
        format=fmt,
        columns=column_list,
        row_count=len(cleaned),
        preview=cleaned[:PREVIEW_ROWS],
        files=sorted(used),
    )
    if dry_run:
        return result
    result.dataset = _save(
        workspace=workspace,
        user=user,
        name=name,
        description=description,
        columns=column_list,
        rows=cleaned,
        payloads=payloads,
    )
    result.preview = list(
        DatasetRow.objects.filter(dataset=result.dataset)
        .order_by("index")
        .values_list("values", flat=True)[:PREVIEW_ROWS]
    )
    return result


def _replace_files(values: dict[str, Any], assets: dict[str, str], media_columns: set[str]) -> dict[str, Any]:
    """``{"file": name}`` cells of media columns -> ``{"asset": id}`` of the uploaded file."""
    return {
        k: (
            {"asset": assets[v["file"]]}
            if k in media_columns and isinstance(v, dict) and set(v) == {"file"} and v["file"] in assets
            else v
        )
        for k, v in values.items()
    }


def _save(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    description: str,
    columns: list[dict[str, str]],
    rows: list[dict[str, Any]],
    payloads: dict[str, bytes],
) -> Dataset:
    """Store the media and the dataset in one transaction; on failure remove files stored for it."""
    from abtests.services import dataset_create
    from prompts.services import asset_create

    stored: list[str] = []
    try:
        with transaction.atomic():
            assets: dict[str, str] = {}
            media = {c["name"] for c in columns if c["type"] in MEDIA_COLUMN_TYPES}
            for file_name, payload in payloads.items():
                upload = ContentFile(payload, name=posixpath.basename(file_name))
                try:
                    asset, created = asset_create(workspace=workspace, user=user, upload=upload)
                except AssetError as exc:
                    raise DatasetError(f"file {file_name}: {exc}") from None
                if created:
                    stored.extend(n for n in (asset.file.name, asset.thumbnail.name if asset.thumbnail else None) if n)
                assets[file_name] = str(asset.pk)
            return dataset_create(
                workspace=workspace,
                user=user,
                name=name,
                description=description,
                columns=columns,
                rows=[_replace_files(values, assets, media) for values in rows],
            )
    except BaseException:
        _delete_files(stored)
        raise


def _delete_files(names: list[str]) -> None:
    for file_name in names:
        with contextlib.suppress(OSError):
            default_storage.delete(file_name)
