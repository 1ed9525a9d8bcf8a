"""Rendering: validated content + variable values -> provider-neutral messages.

``render`` is a pure function (no database, no I/O) used by the playground, A/B runs and the API.
There is no template logic: ``{{ name }}`` is replaced by the value's text and nothing else is
evaluated, and substituted values are never rendered again.

Output::

    {"messages": [{"role": "user", "content": [{"type": "text", "text": "..."},
                                               {"type": "image", "asset": "<uuid>", "detail": "auto"},
                                               {"type": "audio", "url": "https://..."}]}],
     "model": {...}}
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from django.core.exceptions import ValidationError

from prompts.content import MEDIA_TYPES, PLACEHOLDER_RE, TEXT, VARIABLE_NAME_RE, extract_variables, media_reference

NOT_A_NUMBER = "Variable {name} must be a number."
NOT_MEDIA = 'Variable {name} must be an asset id, an http(s) URL, {{"asset": id}} or {{"url": url}}.'
NOT_TEXT = "Variable {name} must be text."
VALUES_NOT_OBJECT = "Variables must be an object of name: value."


class RenderError(ValidationError):
    """Rendering failed; ``missing`` and ``unknown`` list the offending variable names."""

    def __init__(self, message: str, *, missing: list[str] | None = None, unknown: list[str] | None = None) -> None:
        self.missing = missing or []
        self.unknown = unknown or []
        self.text = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.text


def _names_message(label: str, names: list[str]) -> str:
    noun = "variable" if len(names) == 1 else "variables"
    return f"{label} {noun}: {', '.join(names)}."


def format_number(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return format_number(int(stripped))
        except ValueError:
            return format_number(float(stripped))
    raise TypeError


def _as_text(kind: str, name: str, value: Any) -> str:
    if kind == "number":
        try:
            return format_number(value)
        except (TypeError, ValueError):
            raise RenderError(NOT_A_NUMBER.format(name=name)) from None
    if kind == "json":
        if isinstance(value, str):
            return value
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            raise RenderError(f"Variable {name} must be JSON data.") from None
    # text
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    raise RenderError(NOT_TEXT.format(name=name))


def declared_variables(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Declared variables by name, plus any used but undeclared (as text variables)."""
    variables = {v["name"]: v for v in document.get("variables") or []}
    for name in extract_variables(document):
        variables.setdefault(name, {"name": name, "type": "text"})
    return variables


def render(document: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Substitute ``values`` into a validated content document.

    A value of None counts as absent (the default is used). Raises ``RenderError`` naming every
    missing variable (no value, no default) and every unknown one (a value for an undeclared name).
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RenderError(VALUES_NOT_OBJECT)
    variables = declared_variables(document)
    unknown = [name for name in values if name not in variables]
    resolved: dict[str, Any] = {}
    missing = []
    for name, var in variables.items():
        value = values.get(name)
        if value is None:
            value = var.get("default")
        if value is None:
            missing.append(name)
        else:
            resolved[name] = value
    if missing or unknown:
        message = " ".join(
            text
            for text in (
                _names_message("Missing", missing) if missing else "",
                _names_message("Unknown", [str(u) for u in unknown]) if unknown else "",
            )
            if text
        )
        raise RenderError(message, missing=missing, unknown=[str(u) for u in unknown])

    texts: dict[str, str] = {}
    media: dict[str, dict[str, str]] = {}
    for name, var in variables.items():
        kind = var.get("type", "text")
        if kind in MEDIA_TYPES:
            ref = media_reference(resolved[name])
            if ref is None:
                raise RenderError(NOT_MEDIA.format(name=name))
            media[name] = ref
        else:
            texts[name] = _as_text(kind, name, resolved[name])

    def substitute(match: Any) -> str:
        token = match.group(1)
        if VARIABLE_NAME_RE.match(token) and token in texts:
            return texts[token]
        return str(match.group(0))

    messages = []
    for message in document.get("messages") or []:
        parts = []
        for part in message.get("content") or []:
            kind = part.get("type")
            if kind == TEXT:
                parts.append({"type": TEXT, "text": PLACEHOLDER_RE.sub(substitute, part.get("text", ""))})
                continue
            out: dict[str, Any] = {"type": kind}
            if part.get("variable"):
                out.update(media[part["variable"]])
            elif part.get("asset"):
                out["asset"] = part["asset"]
            else:
                out["url"] = part["url"]
            if kind == "image":
                out["detail"] = part.get("detail") or "auto"
            parts.append(out)
        messages.append({"role": message["role"], "content": parts})
    return {"messages": messages, "model": copy.deepcopy(document.get("model") or {})}


def rendered_asset_ids(rendered: dict[str, Any]) -> list[str]:
    """Asset ids in rendered messages, so callers can check they belong to the workspace."""
    seen: dict[str, None] = {}
    for message in rendered.get("messages", []):
        for part in message.get("content", []):
            if part.get("asset"):
                seen.setdefault(part["asset"], None)
    return list(seen)
