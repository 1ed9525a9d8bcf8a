"""What the prompt editor shows: a content document turned into rows for the template.

``editor_state`` is tolerant: after a failed save it gets the document exactly as posted (possibly
invalid) and shows all of it again, with each error next to the message, part, variable or model
setting its path names (``messages[1].content[0].asset: unknown asset``). Nothing typed is lost.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from prompts.content import MEDIA_TYPES, ROLES, VARIABLE_TYPES, placeholder_names
from prompts.models import Asset

PART_LABELS = {"text": "Text", "image": "Image", "audio": "Audio", "document": "PDF"}
MODEL_FIELDS = ("provider", "name", "temperature", "max_tokens")

_MESSAGE_PATH = re.compile(r"^messages\[(\d+)\](?:\.content\[(\d+)\])?")
_VARIABLE_PATH = re.compile(r"^variables\[(\d+)\]")
_MODEL_PATH = re.compile(r"^model(?:\.(\w+))?")


@dataclass
class PartView:
    type: str
    text: str = ""
    source: str = "asset"
    asset_id: str = ""
    url: str = ""
    variable: str = ""
    detail: str = "auto"
    asset: Asset | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return PART_LABELS.get(self.type, self.type)

    @property
    def is_text(self) -> bool:
        return self.type == "text"


@dataclass
class MessageView:
    role: str
    parts: list[PartView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class VariableView:
    name: str
    type: str = "text"
    default: str = ""
    description: str = ""
    used: bool = True
    errors: list[str] = field(default_factory=list)

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES


@dataclass
class ModelView:
    provider: str = ""
    name: str = ""
    temperature: str = ""
    max_tokens: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def extra_json(self) -> str:
        return json.dumps(self.extra, ensure_ascii=False)

    @property
    def general_errors(self) -> list[str]:
        return [e for key, errs in self.errors.items() if key not in MODEL_FIELDS for e in errs]


@dataclass
class EditorState:
    messages: list[MessageView]
    variables: list[VariableView]
    model: ModelView
    errors: list[str] = field(default_factory=list)

    @property
    def media_variable_names(self) -> list[str]:
        return [v.name for v in self.variables if v.is_media]


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def referenced_asset_ids(document: Any) -> list[str]:
    """Asset ids (valid UUIDs only) in parts and media variable defaults of any document."""
    ids: dict[str, None] = {}
    doc = _dict(document)
    for message in _list(doc.get("messages")):
        for part in _list(_dict(message).get("content")):
            ref = _dict(part).get("asset")
            if _is_uuid(ref):
                ids.setdefault(str(uuid.UUID(ref)), None)
    for var in _list(doc.get("variables")):
        default = _dict(var).get("default")
        ref = default.get("asset") if isinstance(default, dict) else default
        if _is_uuid(ref):
            ids.setdefault(str(uuid.UUID(ref)), None)
    return list(ids)


def _used_names(doc: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for message in _list(doc.get("messages")):
        content = _dict(message).get("content")
        if isinstance(content, str):
            names.update(placeholder_names(content))
        for part in _list(content):
            part = _dict(part)
            if isinstance(part.get("text"), str):
                names.update(placeholder_names(part["text"]))
            if isinstance(part.get("variable"), str):
                names.add(part["variable"])
    return names


def _part(raw: Any, assets: dict[str, Asset]) -> PartView:
    raw = _dict(raw)
    kind = raw.get("type") if isinstance(raw.get("type"), str) else "text"
    if kind == "text" or kind not in MEDIA_TYPES:
        return PartView(type="text", text=_text(raw.get("text")))
    part = PartView(type=kind, detail=raw.get("detail") if raw.get("detail") in ("auto", "low", "high") else "auto")
    for source in ("asset", "url", "variable"):
        if raw.get(source) not in (None, ""):
            part.source = source
            break
    part.asset_id = _text(raw.get("asset"))
    part.url = _text(raw.get("url"))
    part.variable = _text(raw.get("variable"))
    if _is_uuid(part.asset_id):
        part.asset = assets.get(str(uuid.UUID(part.asset_id)))
    return part


def _default_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind in MEDIA_TYPES and isinstance(value, dict):
        return _text(value.get("asset") or value.get("url"))
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return _text(value)


def _route_errors(state: EditorState, errors: dict[str, list[str]]) -> None:
    """Put each error next to what its path names; anything else goes to the top of the form."""
    for path, messages in errors.items():
        texts = [f"{path}: {m}" if path and not m.startswith(path) else m for m in messages]
        match = _MESSAGE_PATH.match(path)
        if match:
            i = int(match.group(1))
            j = match.group(2)
            if i < len(state.messages):
                message = state.messages[i]
                if j is not None and int(j) < len(message.parts):
                    message.parts[int(j)].errors.extend(texts)
                else:
                    message.errors.extend(texts)
                continue
        match = _VARIABLE_PATH.match(path)
        if match and int(match.group(1)) < len(state.variables):
            state.variables[int(match.group(1))].errors.extend(texts)
            continue
        match = _MODEL_PATH.match(path)
        if match:
            state.model.errors.setdefault(match.group(1) or "", []).extend(texts)
            continue
        state.errors.extend(texts)


def editor_state(
    document: Any, *, errors: dict[str, list[str]] | None = None, assets: dict[str, Asset] | None = None
) -> EditorState:
    """Rows for the editor from any document (a saved version or what was just posted)."""
    assets = assets or {}
    doc = _dict(document)
    messages: list[MessageView] = []
    for raw in _list(doc.get("messages")):
        raw = _dict(raw)
        role = raw.get("role") if isinstance(raw.get("role"), str) else "user"
        content = raw.get("content")
        parts_raw = [{"type": "text", "text": content}] if isinstance(content, str) else _list(content)
        messages.append(MessageView(role=role, parts=[_part(p, assets) for p in parts_raw]))
    if not messages and not errors:
        messages = [MessageView(role="user", parts=[PartView(type="text")])]

    used = _used_names(doc)
    variables: list[VariableView] = []
    for raw in _list(doc.get("variables")):
        raw = _dict(raw)
        kind = raw.get("type") if raw.get("type") in VARIABLE_TYPES else "text"
        name = _text(raw.get("name"))
        variables.append(
            VariableView(
                name=name,
                type=kind,
                default=_default_text(kind, raw.get("default")),
                description=_text(raw.get("description")),
                used=name in used,
            )
        )

    model_raw = _dict(doc.get("model"))
    model = ModelView(
        provider=_text(model_raw.get("provider")),
        name=_text(model_raw.get("name")),
        temperature=_text(model_raw.get("temperature")),
        max_tokens=_text(model_raw.get("max_tokens")),
        extra={k: v for k, v in model_raw.items() if k not in MODEL_FIELDS},
    )
    state = EditorState(messages=messages, variables=variables, model=model)
    if errors:
        _route_errors(state, errors)
    return state


def role_choices() -> list[str]:
    return list(ROLES)
