"""The one provider-neutral prompt content schema (DESIGN.md "Prompt content").

``validate_content(document, workspace_id=...)`` checks a document and returns its normalised form,
or raises ``ContentError`` whose message names the exact path, e.g.
``messages[1].content[2].asset: unknown asset``. Everything that stores content (prompt versions,
templates, imports) goes through it; ``prompts.rendering.render`` expects its output.

A document::

    {"messages": [{"role": "system"|"user"|"assistant", "content": [part, ...]}, ...],
     "variables": [{"name": ..., "type": "text"|"number"|"json"|"image"|"audio"|"document",
                    "default": ..., "description": ...}, ...],
     "model": {"provider": ..., "name": ..., "temperature": ..., ...}}

A part is ``{"type": "text", "text": ...}`` or a media part ``{"type": "image"|"audio"|"document", ...}``
given by exactly one of ``asset`` (an Asset id in the same workspace), ``url`` (http or https) or
``variable`` (a declared media variable of the same type); images may carry ``detail`` (auto/low/high).
``{{ name }}`` in text parts is a variable; undeclared ones are added as text variables.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError

ROLES = ("system", "user", "assistant")
TEXT = "text"
MEDIA_TYPES = ("image", "audio", "document")
PART_TYPES = (TEXT, *MEDIA_TYPES)
VARIABLE_TYPES = ("text", "number", "json", *MEDIA_TYPES)
DETAILS = ("auto", "low", "high")
MEDIA_SOURCES = ("asset", "url", "variable")

MAX_MESSAGES = 100
MAX_PARTS = 50
MAX_TEXT_LENGTH = 100_000
MAX_VARIABLES = 100
MAX_DESCRIPTION_LENGTH = 500
MAX_URL_LENGTH = 2048
MAX_DOCUMENT_BYTES = 1_000_000
MAX_MODEL_KEYS = 40

VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# ``{{ token }}``: a token that is a valid name is a variable; one that looks like an expression
# (dots, filters, calls, indexing) is refused, since there is no template logic.
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
EXPRESSION_RE = re.compile(r"^[A-Za-z0-9_.|()\[\]'\"-]+$")

# Messages (module constants so tests and callers can match them).
NOT_AN_OBJECT = "must be an object"
NOT_A_LIST = "must be a list"
NOT_A_STRING = "must be a string"
REQUIRED = "is required"
UNKNOWN_FIELD = "unknown field"
NO_MESSAGES = "at least one message is required"
TOO_MANY_MESSAGES = f"at most {MAX_MESSAGES} messages"
TOO_MANY_PARTS = f"at most {MAX_PARTS} parts per message"
TEXT_TOO_LONG = f"at most {MAX_TEXT_LENGTH} characters"
TOO_MANY_VARIABLES = f"at most {MAX_VARIABLES} variables"
DOCUMENT_TOO_LARGE = f"the content is larger than {MAX_DOCUMENT_BYTES // 1000} kB"
UNKNOWN_ROLE = "unknown role (use system, user or assistant)"
UNKNOWN_PART_TYPE = "unknown part type (use text, image, audio or document)"
ONE_SOURCE = "give exactly one of asset, url or variable"
UNKNOWN_ASSET = "unknown asset"
BAD_URL = "must be an http or https URL"
BAD_DETAIL = "must be auto, low or high"
BAD_VARIABLE_NAME = "must start with a letter or _ and contain only letters, digits and _ (at most 64)"
BAD_VARIABLE_TYPE = "unknown variable type (use text, number, json, image, audio or document)"
DUPLICATE_VARIABLE = "duplicate variable name"
UNDECLARED_MEDIA_VARIABLE = "undeclared variable; declare it in variables with type {kind}"
WRONG_VARIABLE_KIND = "variable {name} is of type {actual}, not {kind}"
MEDIA_VARIABLE_IN_TEXT = "{{{{ {name} }}}} is {a_kind} variable; use it as {a_kind} part, not in text"
EXPRESSION_IN_TEXT = "{{{{ {token} }}}} is not a variable name; template logic is not supported"
NOT_JSON = "must be JSON data"
WRONG_ASSET_KIND = "the asset is {a_actual} file, not {kind}"


def with_article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


class ContentError(ValidationError):
    """Invalid content; ``path`` locates the problem (``messages[1].content[2].asset``)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__({path or "content": [reason]})

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContentError(path, NOT_AN_OBJECT)
    return value


def _no_extra(value: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in value:
        if key not in allowed:
            raise ContentError(f"{path}.{key}" if path else str(key), UNKNOWN_FIELD)


def _is_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return False
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _placeholders(text: str, path: str) -> list[str]:
    names = []
    for match in PLACEHOLDER_RE.finditer(text):
        token = match.group(1)
        if VARIABLE_NAME_RE.match(token):
            names.append(token)
        elif EXPRESSION_RE.match(token):
            raise ContentError(path, EXPRESSION_IN_TEXT.format(token=token))
    return names


def placeholder_names(text: str) -> list[str]:
    """Variable names used as ``{{ name }}`` in one text, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER_RE.finditer(text):
        if VARIABLE_NAME_RE.match(match.group(1)):
            seen.setdefault(match.group(1), None)
    return list(seen)


def extract_variables(document: dict[str, Any]) -> list[str]:
    """Every variable name the document uses (text placeholders and media parts), in order of appearance."""
    seen: dict[str, None] = {}
    for message in document.get("messages") or []:
        for part in (message or {}).get("content") or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == TEXT and isinstance(part.get("text"), str):
                for name in placeholder_names(part["text"]):
                    seen.setdefault(name, None)
            elif isinstance(part.get("variable"), str):
                seen.setdefault(part["variable"], None)
    return list(seen)


def media_reference(value: Any) -> dict[str, str] | None:
    """A media value in normalised form ({"asset": id} or {"url": url}), or None when it is neither.

    Accepts an asset id string, an http(s) URL string, ``{"asset": id}`` or ``{"url": url}``.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "asset" and _is_uuid(inner):
            return {"asset": str(uuid.UUID(inner))}
        if key == "url" and _is_url(inner):
            return {"url": inner}
        return None
    if _is_uuid(value):
        return {"asset": str(uuid.UUID(value))}
    if _is_url(value):
        return {"url": value}
    return None


# --- model settings ------------------------------------------------------------------------------

_NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "max_tokens": (1, 1_000_000),
    "max_output_tokens": (1, 1_000_000),
    "top_k": (1, 1000),
    "seed": (-(2**63), 2**63 - 1),
    "n": (1, 16),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_json(value: Any, path: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ContentError(path, NOT_JSON) from None


def _validate_model(model: Any) -> dict[str, Any]:
    model = _obj(model, "model")
    if len(model) > MAX_MODEL_KEYS:
        raise ContentError("model", f"at most {MAX_MODEL_KEYS} settings")
    out: dict[str, Any] = {}
    for key, value in model.items():
        path = f"model.{key}"
        if not isinstance(key, str) or not key or len(key) > 64:
            raise ContentError("model", "setting names are 1-64 characters")
        if key in ("provider", "name"):
            if not isinstance(value, str) or not value.strip():
                raise ContentError(path, "must be a non-empty string")
            out[key] = value.strip()
        elif key in _NUMBER_RANGES:
            if value is None:
                continue
            low, high = _NUMBER_RANGES[key]
            if not _is_number(value) or not low <= value <= high:
                raise ContentError(path, f"must be a number from {low:g} to {high:g}")
            out[key] = value
        elif key in _INT_RANGES:
            if value is None:
                continue
            low_i, high_i = _INT_RANGES[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low_i <= value <= high_i:
                raise ContentError(path, f"must be a whole number from {low_i} to {high_i}")
            out[key] = value
        elif key == "stop":
            if value is None:
                continue
            stops = [value] if isinstance(value, str) else value
            if not isinstance(stops, list) or len(stops) > 8 or not all(isinstance(s, str) and s for s in stops):
                raise ContentError(path, "must be a string or a list of at most 8 non-empty strings")
            out[key] = value
        elif key == "response_format":
            if value is None or value in ("text", "json", "json_object"):
                out[key] = value
            elif isinstance(value, dict):
                _check_json(value, path)
                out[key] = value
            else:
                raise ContentError(path, "must be null, text, json or an object")
        else:
            _check_json(value, path)
            out[key] = value
    return out


# --- variables -----------------------------------------------------------------------------------


def _validate_default(kind: str, value: Any, path: str) -> Any:
    if kind == "text":
        if not isinstance(value, str):
            raise ContentError(path, NOT_A_STRING)
        if len(value) > MAX_TEXT_LENGTH:
            raise ContentError(path, TEXT_TOO_LONG)
        return value
    if kind == "number":
        if not _is_number(value):
            raise ContentError(path, "must be a number")
        return value
    if kind == "json":
        _check_json(value, path)
        return value
    ref = media_reference(value)
    if ref is None:
        raise ContentError(path, 'must be an asset id, an http(s) URL, {"asset": id} or {"url": url}')
    return ref


def _validate_variables(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ContentError("variables", NOT_A_LIST)
    if len(raw) > MAX_VARIABLES:
        raise ContentError("variables", TOO_MANY_VARIABLES)
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        path = f"variables[{i}]"
        item = _obj(item, path)
        _no_extra(item, {"name", "type", "default", "description"}, path)
        name = item.get("name")
        if name is None:
            raise ContentError(f"{path}.name", REQUIRED)
        if not isinstance(name, str) or not VARIABLE_NAME_RE.match(name):
            raise ContentError(f"{path}.name", BAD_VARIABLE_NAME)
        if name in names:
            raise ContentError(f"{path}.name", DUPLICATE_VARIABLE)
        names.add(name)
        kind = item.get("type", "text")
        if kind not in VARIABLE_TYPES:
            raise ContentError(f"{path}.type", BAD_VARIABLE_TYPE)
        var: dict[str, Any] = {"name": name, "type": kind}
        if "default" in item and item["default"] is not None:
            var["default"] = _validate_default(kind, item["default"], f"{path}.default")
        description = item.get("description")
        if description not in (None, ""):
            if not isinstance(description, str):
                raise ContentError(f"{path}.description", NOT_A_STRING)
            if len(description) > MAX_DESCRIPTION_LENGTH:
                raise ContentError(f"{path}.description", f"at most {MAX_DESCRIPTION_LENGTH} characters")
            var["description"] = description
        out.append(var)
    return out


# --- messages ------------------------------------------------------------------------------------


def _validate_part(
    part: Any, path: str, variables: dict[str, dict[str, Any]], assets: list[tuple[str, str, str]]
) -> tuple[dict[str, Any], list[str]]:
    """A normalised part and the text placeholders it uses; asset refs are collected for one lookup."""
    part = _obj(part, path)
    kind = part.get("type")
    if kind is None:
        raise ContentError(f"{path}.type", REQUIRED)
    if kind not in PART_TYPES:
        raise ContentError(f"{path}.type", UNKNOWN_PART_TYPE)
    if kind == TEXT:
        _no_extra(part, {"type", "text"}, path)
        text = part.get("text")
        if text is None:
            raise ContentError(f"{path}.text", REQUIRED)
        if not isinstance(text, str):
            raise ContentError(f"{path}.text", NOT_A_STRING)
        if len(text) > MAX_TEXT_LENGTH:
            raise ContentError(f"{path}.text", TEXT_TOO_LONG)
        names = _placeholders(text, f"{path}.text")
        for name in names:
            declared = variables.get(name)
            if declared is not None and declared["type"] in MEDIA_TYPES:
                raise ContentError(
                    f"{path}.text", MEDIA_VARIABLE_IN_TEXT.format(name=name, a_kind=with_article(declared["type"]))
                )
        return {"type": TEXT, "text": text}, names

    allowed = {"type", *MEDIA_SOURCES} | ({"detail"} if kind == "image" else set())
    _no_extra(part, allowed, path)
    sources = [key for key in MEDIA_SOURCES if part.get(key) not in (None, "")]
    if len(sources) != 1:
        raise ContentError(path, ONE_SOURCE)
    source = sources[0]
    value = part[source]
    out: dict[str, Any] = {"type": kind}
    if source == "asset":
        if not _is_uuid(value):
            raise ContentError(f"{path}.asset", UNKNOWN_ASSET)
        out["asset"] = str(uuid.UUID(value))
        assets.append((f"{path}.asset", out["asset"], kind))
    elif source == "url":
        if not _is_url(value):
            raise ContentError(f"{path}.url", BAD_URL)
        out["url"] = value
    else:
        if not isinstance(value, str) or not VARIABLE_NAME_RE.match(value):
            raise ContentError(f"{path}.variable", BAD_VARIABLE_NAME)
        declared = variables.get(value)
        if declared is None:
            raise ContentError(f"{path}.variable", UNDECLARED_MEDIA_VARIABLE.format(kind=kind))
        if declared["type"] != kind:
            raise ContentError(
                f"{path}.variable", WRONG_VARIABLE_KIND.format(name=value, actual=declared["type"], kind=kind)
            )
        out["variable"] = value
    if kind == "image":
        detail = part.get("detail", "auto")
        if detail is None:
            detail = "auto"
        if detail not in DETAILS:
            raise ContentError(f"{path}.detail", BAD_DETAIL)
        out["detail"] = detail
    return out, []


def _check_assets(assets: list[tuple[str, str, str]], workspace_id: int | None) -> None:
    if not assets:
        return
    known: dict[str, str] = {}
    if workspace_id is not None:
        from prompts.models import Asset

        ids = {asset_id for _, asset_id, _ in assets}
        known = {
            str(pk): kind
            for pk, kind in Asset.objects.filter(workspace_id=workspace_id, pk__in=ids).values_list("pk", "kind")
        }
    for path, asset_id, kind in assets:
        actual = known.get(asset_id)
        if actual is None:
            raise ContentError(path, UNKNOWN_ASSET)
        if actual != kind:
            raise ContentError(path, WRONG_ASSET_KIND.format(a_actual=with_article(actual), kind=kind))


def validate_content(document: Any, *, workspace_id: int | None) -> dict[str, Any]:
    """Check a content document and return it normalised, or raise ``ContentError`` naming the path.

    Asset references must be assets of ``workspace_id``; with ``workspace_id=None`` no asset can be
    resolved, so any asset reference is an unknown asset (use URLs or variables there).
    """
    document = _obj(document, "")
    try:
        size = len(json.dumps(document, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise ContentError("", "the content must be JSON data") from None
    if size > MAX_DOCUMENT_BYTES:
        raise ContentError("", DOCUMENT_TOO_LARGE)
    _no_extra(document, {"messages", "variables", "model"}, "")

    variables = _validate_variables(document.get("variables"))
    by_name = {v["name"]: v for v in variables}

    messages_raw = document.get("messages")
    if messages_raw is None:
        raise ContentError("messages", REQUIRED)
    if not isinstance(messages_raw, list):
        raise ContentError("messages", NOT_A_LIST)
    if not messages_raw:
        raise ContentError("messages", NO_MESSAGES)
    if len(messages_raw) > MAX_MESSAGES:
        raise ContentError("messages", TOO_MANY_MESSAGES)

    assets: list[tuple[str, str, str]] = []
    for i, var in enumerate(variables):
        default = var.get("default")
        if var["type"] in MEDIA_TYPES and isinstance(default, dict) and "asset" in default:
            assets.append((f"variables[{i}].default", default["asset"], var["type"]))

    messages: list[dict[str, Any]] = []
    used: dict[str, None] = {}
    for i, message in enumerate(messages_raw):
        path = f"messages[{i}]"
        message = _obj(message, path)
        _no_extra(message, {"role", "content"}, path)
        role = message.get("role")
        if role is None:
            raise ContentError(f"{path}.role", REQUIRED)
        if role not in ROLES:
            raise ContentError(f"{path}.role", UNKNOWN_ROLE)
        parts_raw = message.get("content")
        if isinstance(parts_raw, str):  # shorthand: a plain string is one text part
            parts_raw = [{"type": TEXT, "text": parts_raw}]
        if parts_raw is None:
            raise ContentError(f"{path}.content", REQUIRED)
        if not isinstance(parts_raw, list):
            raise ContentError(f"{path}.content", NOT_A_LIST)
        if len(parts_raw) > MAX_PARTS:
            raise ContentError(f"{path}.content", TOO_MANY_PARTS)
        parts = []
        for j, part in enumerate(parts_raw):
            normalised, names = _validate_part(part, f"{path}.content[{j}]", by_name, assets)
            parts.append(normalised)
            for name in names:
                used.setdefault(name, None)
        messages.append({"role": role, "content": parts})

    for name in used:
        if name not in by_name:
            if len(variables) >= MAX_VARIABLES:
                raise ContentError("variables", TOO_MANY_VARIABLES)
            var = {"name": name, "type": "text"}
            variables.append(var)
            by_name[name] = var

    _check_assets(assets, workspace_id)

    result: dict[str, Any] = {"messages": messages, "variables": variables}
    result["model"] = _validate_model(document["model"]) if document.get("model") is not None else {}
    return result


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form (sorted keys, no whitespace)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def asset_ids(document: dict[str, Any]) -> list[str]:
    """Asset ids referenced by parts and media variable defaults, in order, without repeats."""
    seen: dict[str, None] = {}
    for message in document.get("messages") or []:
        for part in message.get("content") or []:
            if isinstance(part, dict) and isinstance(part.get("asset"), str):
                seen.setdefault(part["asset"], None)
    for var in document.get("variables") or []:
        default = var.get("default")
        if isinstance(default, dict) and isinstance(default.get("asset"), str):
            seen.setdefault(default["asset"], None)
    return list(seen)


def empty_document() -> dict[str, Any]:
    """A fresh document for a new prompt: one empty user message."""
    return {"messages": [{"role": "user", "content": [{"type": TEXT, "text": ""}]}], "variables": [], "model": {}}
