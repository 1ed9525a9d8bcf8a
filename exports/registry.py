"""The registry of object-type handlers: one per exportable type (prompts, templates, datasets, runs, ...).

A handler knows how to turn its objects into plain data (``export``) and back (``import_items``).
Exports and imports walk ``handlers()`` in ``order``, so a type that refers to another (a run to its
prompt version, an A/B test to its prompts and dataset) is imported after it and finds the new objects
in ``ImportContext.refs``.

Adding a type (for example the A/B test handler, once the ``ABTest`` model exists)::

    from exports.registry import Handler, register

    @register
    class ABTestHandler(Handler):
        name = "abtests"          # the key in export documents and the archive's abtests.json
        label = "A/B tests"
        order = 40                # after prompts (10), templates (20) and datasets (30); before runs (50)
        def queryset(self, workspace_id): ...
        def export(self, objects, ctx): ...            # -> list of plain dicts (no database ids needed)
        def import_items(self, items, ctx, path): ...  # create with new ids; ctx.refs has the prompts etc.

Media references: export ``{"asset": "<uuid>"}`` as they are; ``ExportContext`` rewrites them to asset
keys and collects the files. On import, call ``ctx.remap(value, path)`` to turn keys into the new
asset ids before validating.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User, Workspace
from exports.formats import ImportRefused

UNKNOWN_ASSET_KEY = "{path}: refers to asset {key!r}, which is not in the export's assets."
BAD_TIMESTAMP = "{path}: {value!r} is not an ISO 8601 date and time."
NOT_A_LIST = "{path}: must be a list."
NOT_AN_OBJECT = "{path}: must be an object."
FIELD_REQUIRED = "{path}: is required."
FIELD_TYPE = "{path}: must be {expected}."

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class Handler:
    name: str = ""
    label: str = ""
    order: int = 100
    # Table exports (CSV/JSONL) of this type: the flat columns, or () when it has no table form.
    table_columns: tuple[str, ...] = ()

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        raise NotImplementedError

    def export(self, objects: Iterable[Any], ctx: ExportContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        raise NotImplementedError

    def describe(self, item: dict[str, Any]) -> str:
        """How the preview names one item."""
        return str(item.get("name") or item.get("slug") or "")


_REGISTRY: dict[str, Handler] = {}
H = TypeVar("H", bound=type[Handler])


def register(cls: H) -> H:
    """Class decorator: add a handler (its ``name`` must be unique)."""
    handler = cls()
    if not handler.name:
        raise ValueError("A handler needs a name.")
    _REGISTRY[handler.name] = handler
    return cls


def handlers() -> list[Handler]:
    _load_builtin()
    return sorted(_REGISTRY.values(), key=lambda h: (h.order, h.name))


def get_handler(name: str) -> Handler:
    _load_builtin()
    return _REGISTRY[name]


def _load_builtin() -> None:
    import exports.handlers  # noqa: F401 - registers the built-in handlers


# --- export ----------------------------------------------------------------------------------------


@dataclass
class ExportContext:
    """Collects the assets that exported objects refer to and rewrites their ids to asset keys."""

    workspace_id: int
    asset_ids: set[str] = field(default_factory=set)

    def collect(self, value: Any) -> None:
        for ref in _asset_refs(value):
            self.asset_ids.add(ref)


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _asset_refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        ref = value.get("asset")
        if _is_uuid(ref):
            yield str(uuid.UUID(ref))
        for inner in value.values():
            yield from _asset_refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _asset_refs(inner)


def rewrite_assets(value: Any, mapping: dict[str, str]) -> Any:
    """A copy of ``value`` with every ``{"asset": id}`` whose id is in ``mapping`` replaced."""
    if isinstance(value, dict):
        out = {k: rewrite_assets(v, mapping) for k, v in value.items()}
        ref = value.get("asset")
        if isinstance(ref, str):
            key = str(uuid.UUID(ref)) if _is_uuid(ref) else ref
            if key in mapping:
                out["asset"] = mapping[key]
        return out
    if isinstance(value, list):
        return [rewrite_assets(v, mapping) for v in value]
    return value


# --- import ----------------------------------------------------------------------------------------


@dataclass
class ImportContext:
    workspace: Workspace
    user: User | None
    asset_map: dict[str, str] = field(default_factory=dict)  # asset key -> new asset id
    refs: dict[str, dict[Any, Any]] = field(default_factory=lambda: defaultdict(dict))
    created: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    def remap(self, value: Any, path: str) -> Any:
        """``value`` with asset keys replaced by the new asset ids; an unknown key is refused with its path."""
        if isinstance(value, dict):
            out = {}
            for key, inner in value.items():
                out[key] = self.remap(inner, f"{path}.{key}" if path else str(key))
            ref = value.get("asset")
            if isinstance(ref, str):
                if ref not in self.asset_map:
                    raise ImportRefused(UNKNOWN_ASSET_KEY.format(path=f"{path}.asset", key=ref))
                out["asset"] = self.asset_map[ref]
            return out
        if isinstance(value, list):
            return [self.remap(inner, f"{path}[{i}]") for i, inner in enumerate(value)]
        return value

    def record(self, handler: str, obj: Any, name: str, **extra: Any) -> None:
        self.created[handler].append({"id": obj.pk, "name": name, **extra})


# --- small checks with paths ------------------------------------------------------------------------


def as_list(value: Any, path: str, *, required: bool = True) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ImportRefused(NOT_A_LIST.format(path=path))
    return value


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportRefused(NOT_AN_OBJECT.format(path=path))
    return value


def field_of(item: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...], *, default: Any = ...) -> Any:
    """``item[key]`` checked against ``kind``; missing -> ``default`` (or refused when there is none)."""
    if key not in item or item[key] is None:
        if default is ...:
            raise ImportRefused(FIELD_REQUIRED.format(path=f"{path}.{key}"))
        return default
    value = item[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ImportRefused(FIELD_TYPE.format(path=f"{path}.{key}", expected=_expected(kinds)))
    if not isinstance(value, kinds):
        raise ImportRefused(FIELD_TYPE.format(path=f"{path}.{key}", expected=_expected(kinds)))
    return value


def _expected(kinds: tuple[type, ...]) -> str:
    names = {
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def timestamp(value: Any, path: str) -> Any:
    """An aware datetime from ISO text (None stays None)."""
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ImportRefused(BAD_TIMESTAMP.format(path=path, value=value))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def is_asset_key(value: Any) -> bool:
    return isinstance(value, str) and bool(_SHA_RE.match(value))
