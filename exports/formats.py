"""The export format: constants, the refusal error, and readers/writers for JSON, YAML, CSV and JSONL.

Every export is a document::

    {"format": "mps-export", "format_version": 1, "kind": "workspace" | "prompt" | ...,
     "exported_at": "...", "media": "archive" | "data-url",
     "assets": [{"key": "<sha256>", "kind": ..., "mime_type": ..., "file": "assets/<sha256>.<ext>"
                 | "data_url": "data:...;base64,..."}, ...],
     "prompts": [...], "templates": [...], "datasets": [...], "runs": [...], ...}

Objects refer to media by asset key (``{"asset": "<sha256>"}``), never by database id, so an import
into another workspace remaps them to the new assets. Readers raise ``ImportRefused`` whose message
says where the problem is (a YAML line and column, a JSON line and column, or the path in the document).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError

FORMAT = "mps-export"
FORMAT_VERSION = 1
MEDIA_ARCHIVE = "archive"
MEDIA_DATA_URL = "data-url"
MEDIA_MODES = (MEDIA_DATA_URL, MEDIA_ARCHIVE)

NOT_AN_EXPORT = 'This is not a Prompt Studio export: "format" must be "mps-export".'
UNKNOWN_VERSION = (
    "This export has format_version {version!r}; this studio reads format_version {supported} only "
    "(export it again from a studio of the same version)."
)
BAD_JSON = "The JSON is malformed at line {line}, column {column}: {error}."
BAD_YAML = "The YAML is malformed at line {line}, column {column}: {error}."
YAML_ALIASES = "The YAML uses anchors/aliases (line {line}, column {column}); they are not accepted in imports."
NOT_UTF8 = "The file is not UTF-8 text."
DOCUMENT_NOT_OBJECT = "The document must be a mapping (an object) at the top level."
FILE_TOO_LARGE = "The file is {size}; imports may be at most {limit}."
EMPTY_FILE = "The file is empty."


class ImportRefused(ValidationError):
    """An import (or an export request) was refused; ``text`` is one clear sentence that says where and why."""

    def __init__(self, message: str) -> None:
        self.text = message
        super().__init__({"file": [message]})

    def __str__(self) -> str:
        return self.text


def limit(name: str, default: int) -> int:
    """A size limit from settings (``EXPORTS_<NAME>``) or its default."""
    return int(getattr(settings, f"EXPORTS_{name}", default))


def max_import_bytes() -> int:
    return limit("IMPORT_MAX_BYTES", 200 * 1024 * 1024)


def max_document_bytes() -> int:
    return limit("DOCUMENT_MAX_BYTES", 50 * 1024 * 1024)


def human_size(size: int) -> str:
    from prompts.assets import human_size as _human

    return _human(size)


# --- writing ---------------------------------------------------------------------------------------


def dump_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


class _Dumper(yaml.SafeDumper):
    """Safe YAML with block style, multi-line strings as literal blocks and no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value and not value.startswith((" ", "\n")) and not value.rstrip("\n").endswith(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def dump_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """A CSV with a header; objects and lists become JSON text, None an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in columns])
    return out.getvalue()


def dump_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# --- reading ---------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(NOT_UTF8) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise ImportRefused(BAD_JSON.format(line=1, column=1, error=str(exc))) from None
        raise ImportRefused(BAD_JSON.format(line=exc.lineno, column=exc.colno, error=exc.msg)) from None
    except RecursionError:
        raise ImportRefused(BAD_JSON.format(line=1, column=1, error="nested too deeply")) from None


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases (no "billion laughs" expansion)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise ImportRefused(YAML_ALIASES.format(line=mark.line + 1, column=mark.column + 1))
        return super().compose_node(parent, index)


# Dates stay text (as they are in JSON): no implicit timestamp conversion.
_NoAliasLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        raise ImportRefused(BAD_YAML.format(line=line, column=column, error=reason)) from None
    except yaml.YAMLError as exc:
        raise ImportRefused(BAD_YAML.format(line=1, column=1, error=str(exc).strip())) from None
    except RecursionError:
        raise ImportRefused(BAD_YAML.format(line=1, column=1, error="nested too deeply")) from None


def load_document(data: bytes, *, name: str = "") -> Any:
    """A JSON or YAML document from bytes (JSON when it starts with ``{``/``[`` or the name says .json)."""
    if not data:
        raise ImportRefused(EMPTY_FILE)
    if len(data) > max_document_bytes():
        raise ImportRefused(FILE_TOO_LARGE.format(size=human_size(len(data)), limit=human_size(max_document_bytes())))
    text = decode_text(data)
    stripped = text.lstrip()
    if name.lower().endswith(".json") or stripped.startswith(("{", "[")):
        return load_json(text)
    return load_yaml(text)


def check_header(document: Any) -> dict[str, Any]:
    """The document after checking ``format`` and ``format_version``."""
    if not isinstance(document, dict):
        raise ImportRefused(DOCUMENT_NOT_OBJECT)
    if document.get("format") != FORMAT:
        raise ImportRefused(NOT_AN_EXPORT)
    version = document.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ImportRefused(UNKNOWN_VERSION.format(version=version, supported=FORMAT_VERSION))
    return document
