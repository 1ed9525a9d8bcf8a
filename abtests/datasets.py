"""Dataset columns and cell values: the checks shared by the row services and the importers.

Every refusal says where: ``row 7, column photo: unknown asset 123`` (rows numbered from 1 as a
person counts them; the API's single-row endpoints leave out the row).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from abtests.models import COLUMN_TYPES, MEDIA_COLUMN_TYPES
from prompts.content import VARIABLE_NAME_RE, media_reference
from prompts.models import Asset

# Limits (each can be changed in settings).
DEFAULT_LIMITS = {
    "DATASET_MAX_ROWS": 10_000,
    "DATASET_MAX_COLUMNS": 50,
    "DATASET_MAX_CELL_CHARS": 20_000,
    "DATASET_IMPORT_MAX_BYTES": 20 * 1024 * 1024,
    "DATASET_ZIP_MAX_FILES": 1000,
    "DATASET_ZIP_MAX_UNCOMPRESSED_BYTES": 200 * 1024 * 1024,
}


def limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULT_LIMITS[name]))


# Messages (module constants so tests and callers can match them).
COLUMNS_NOT_A_LIST = 'columns must be a list of {"name": ..., "type": ...} objects'
COLUMN_NOT_AN_OBJECT = "must be an object with name and type"
BAD_COLUMN_NAME = (
    "{name!r} is not a valid variable name (letters, digits and _, starting with a letter or _; at most 64)"
)
DUPLICATE_COLUMN = "column {name!r} appears twice"
BAD_COLUMN_TYPE = "unknown column type {type!r} (use text, number, json, image, audio or document)"
TOO_MANY_COLUMNS = "at most {limit} columns"
UNKNOWN_COLUMN = "unknown column {name!r}"
VALUES_NOT_AN_OBJECT = "values must be an object keyed by column name"
NOT_TEXT = "expected text, got {got}"
NOT_A_NUMBER = "{value!r} is not a number"
NOT_JSON = "is not valid JSON: {error}"
CELL_TOO_LONG = "the value has {length} characters; cells may have at most {limit}"
BAD_MEDIA = "{value!r} is not an asset id or an http(s) URL"
UNKNOWN_ASSET = "unknown asset {value}"
WRONG_ASSET_KIND = "asset {value} is {actual}, not {kind}"
TOO_MANY_ROWS = "a dataset may have at most {limit} rows"


class DatasetError(ValidationError):
    """A refusal with one clear message (``str(exc)`` is that message)."""

    def __init__(self, message: str, *, field: str | None = None, http_status: int = 400) -> None:
        self.text = message
        self.http_status = http_status  # the API's answer: 409 for a name already taken
        super().__init__({field: [message]} if field else message)

    def __str__(self) -> str:
        return self.text


def where(row: int | None, column: str | None = None) -> str:
    parts = []
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column}")
    return ", ".join(parts)


def cell_error(row: int | None, column: str | None, reason: str) -> DatasetError:
    prefix = where(row, column)
    return DatasetError(f"{prefix}: {reason}" if prefix else reason)


# --- columns -------------------------------------------------------------------------------------


def clean_column_name(name: Any, *, path: str) -> str:
    if not isinstance(name, str) or not VARIABLE_NAME_RE.match(name):
        raise DatasetError(f"{path}: " + BAD_COLUMN_NAME.format(name=name), field="columns")
    return name


def clean_columns(columns: Any) -> list[dict[str, str]]:
    """``[{"name": ..., "type": ...}]`` checked: valid unique variable names, known types, a bounded count."""
    if not isinstance(columns, list):
        raise DatasetError(COLUMNS_NOT_A_LIST, field="columns")
    if len(columns) > limit("DATASET_MAX_COLUMNS"):
        raise DatasetError("columns: " + TOO_MANY_COLUMNS.format(limit=limit("DATASET_MAX_COLUMNS")), field="columns")
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, column in enumerate(columns):
        path = f"columns[{i}]"
        if not isinstance(column, dict) or set(column) - {"name", "type"} or "name" not in column:
            raise DatasetError(f"{path}: {COLUMN_NOT_AN_OBJECT}", field="columns")
        name = clean_column_name(column["name"], path=f"{path}.name")
        kind = column.get("type", "text")
        if kind not in COLUMN_TYPES:
            raise DatasetError(f"{path}.type: " + BAD_COLUMN_TYPE.format(type=kind), field="columns")
        if name in seen:
            raise DatasetError(f"{path}.name: " + DUPLICATE_COLUMN.format(name=name), field="columns")
        seen.add(name)
        cleaned.append({"name": name, "type": kind})
    return cleaned


# --- cells ---------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_number(text: str) -> int | float | None:
    """A number from a CSV cell: ``42``, ``-3.5``, ``1e3``; None when it is not one (or not finite)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def from_text(kind: str, text: str, *, row: int | None, column: str) -> Any:
    """A CSV cell (always text) as a typed value for a column of ``kind``; empty cells are null (text: "")."""
    if kind == "text":
        return text
    if text.strip() == "":
        return None
    if kind == "number":
        number = parse_number(text)
        if number is None:
            raise cell_error(row, column, NOT_A_NUMBER.format(value=_short(text)))
        return number
    if kind == "json":
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise cell_error(row, column, NOT_JSON.format(error=exc)) from None
    return text.strip()


def convert(kind: str, value: Any, *, row: int | None, column: str) -> Any:
    """A stored value carried over to a column whose type changed to ``kind`` (text parses, values print)."""
    if value is None:
        return None
    if kind == "text" and not isinstance(value, str):
        if isinstance(value, dict) and len(value) == 1 and set(value) <= {"asset", "url"}:
            return str(next(iter(value.values())))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return json.dumps(value, ensure_ascii=False)
    if kind != "text" and isinstance(value, str):
        return from_text(kind, value, row=row, column=column)
    return value


def _short(text: str, limit_: int = 40) -> str:
    return text if len(text) <= limit_ else text[: limit_ - 1] + "…"


def asset_kinds(workspace_id: int, ids: Iterable[str]) -> dict[str, str]:
    """Kinds of the given asset ids that exist in the workspace (one query)."""
    wanted = {str(i) for i in ids}
    if not wanted:
        return {}
    return {
        str(pk): kind
        for pk, kind in Asset.objects.filter(workspace_id=workspace_id, pk__in=list(wanted)).values_list("pk", "kind")
    }


def asset_ids_in(values: Any) -> set[str]:
    """Asset ids referenced by a media cell value (a uuid string or {"asset": uuid})."""
    ref = media_reference(values)
    return {ref["asset"]} if ref and "asset" in ref else set()


def clean_value(
    kind: str,
    value: Any,
    *,
    row: int | None,
    column: str,
    kinds: Mapping[str, str],
    files: Mapping[str, str] | None = None,
) -> Any:
    """One typed cell checked for a column of ``kind``.

    ``kinds`` maps the workspace's asset ids referenced by this batch to their kind (``asset_kinds``).
    ``files`` (ZIP imports) maps file names in the ZIP to their kind; such cells become ``{"file": name}``
    until the importer uploads them.
    """
    if value is None:
        return None
    cell_limit = limit("DATASET_MAX_CELL_CHARS")
    if kind == "text":
        if not isinstance(value, str):
            raise cell_error(row, column, NOT_TEXT.format(got=_type_name(value)))
        if len(value) > cell_limit:
            raise cell_error(row, column, CELL_TOO_LONG.format(length=len(value), limit=cell_limit))
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise cell_error(row, column, NOT_A_NUMBER.format(value=value))
        return value
    if kind == "json":
        try:
            dumped = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise cell_error(row, column, NOT_JSON.format(error=exc)) from None
        if len(dumped) > cell_limit:
            raise cell_error(row, column, CELL_TOO_LONG.format(length=len(dumped), limit=cell_limit))
        return value
    # Media: a ZIP file name, an asset id of the workspace, or an http(s) URL.
    if files is not None and isinstance(value, str) and value.strip() in files:
        name = value.strip()
        if files[name] != kind:
            raise cell_error(row, column, f"file {name} is {_article(files[name])} file, not {kind}")
        return {"file": name}
    ref = media_reference(value.strip() if isinstance(value, str) else value)
    if ref is None:
        if isinstance(value, str) and files is not None:
            raise cell_error(row, column, f"no file named {_short(value)} in the ZIP, and it is not an asset id or URL")
        if isinstance(value, str | int) and not isinstance(value, bool):
            raise cell_error(row, column, UNKNOWN_ASSET.format(value=_short(str(value))))
        raise cell_error(row, column, BAD_MEDIA.format(value=value))
    if "asset" in ref:
        actual = kinds.get(ref["asset"])
        if actual is None:
            raise cell_error(row, column, UNKNOWN_ASSET.format(value=ref["asset"]))
        if actual != kind:
            raise cell_error(
                row, column, WRONG_ASSET_KIND.format(value=ref["asset"], actual=_article(actual), kind=kind)
            )
    return ref


def _article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def clean_row(
    values: Any,
    columns: list[dict[str, str]],
    *,
    row: int | None,
    kinds: Mapping[str, str],
    files: Mapping[str, str] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """A row's values checked against the columns: unknown keys refused, missing ones null."""
    if not isinstance(values, dict):
        raise cell_error(row, None, VALUES_NOT_AN_OBJECT)
    types = {c["name"]: c["type"] for c in columns}
    for key in values:
        if key not in types:
            raise cell_error(row, None, UNKNOWN_COLUMN.format(name=key))
    cleaned: dict[str, Any] = {}
    for name, kind in types.items():
        if partial and name not in values:
            continue
        cleaned[name] = clean_value(kind, values.get(name), row=row, column=name, kinds=kinds, files=files)
    return cleaned


def referenced_assets(rows: Iterable[Mapping[str, Any]], columns: list[dict[str, str]]) -> set[str]:
    media = [c["name"] for c in columns if c["type"] in MEDIA_COLUMN_TYPES]
    found: set[str] = set()
    for values in rows:
        if not isinstance(values, Mapping):
            continue
        for name in media:
            found |= asset_ids_in(values.get(name))
    return found


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True
