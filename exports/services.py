"""Exports and imports, each audited.

Exports: ``prompt_export``, ``template_export``, ``dataset_export``, ``abtest_export``, ``runs_export``
and ``workspace_export`` build the file through ``exports.exporters`` and append one ``export.<type>``
audit event (actor, workspace, target, format, media, file name and size, page or API). A refused
request (a bad format) builds nothing and records nothing. Snippets are not exports: they show one
version's code, re-rendered on every option change, and are not audited.

Imports: an export document (JSON/YAML) or archive (ZIP) into a workspace, all or nothing.

``bundle_import`` parses and checks the upload first (nothing touches the database before the file
is known to be a well-formed export of a supported version), then creates assets (through the same
upload checks as any upload), prompts, templates, datasets, runs, ... in one transaction with new ids.
Any problem rolls everything back; files that the failed attempt stored are deleted again. A dry run
does the whole import and then rolls it back, so its preview is exactly what a real import creates.
An applied import appends one ``import.studio`` or ``import.promptfoo`` event in its transaction; a
dry run or a refused import (rolled back) leaves none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User, Workspace
from audit.context import request_channel
from audit.services import record
from exports import exporters
from exports.archive import MANIFEST, ZIP_NO_MANIFEST, Archive, is_zip, open_archive, safe_name
from exports.formats import (
    EMPTY_FILE,
    FILE_TOO_LARGE,
    MEDIA_ARCHIVE,
    MEDIA_DATA_URL,
    ImportRefused,
    check_header,
    human_size,
    load_document,
    load_json,
    max_import_bytes,
)
from exports.registry import ImportContext, as_list, as_object, field_of, handlers

HEADER_KEYS = {"format", "format_version", "kind", "exported_at", "media", "assets", "contents", "counts"}
UNKNOWN_SECTION = "The export contains {name!r}, which this studio can't import (known: {known}); nothing was imported."
IN_FILE = "{file}: {error}"
BAD_CONTENTS = "manifest.json: contents.{name} must name a .json file in the archive."
ASSET_NO_SOURCE = "{path}: give file (in an archive) or data_url."
ASSET_FILE_OUTSIDE = "{path}.file: {name!r} must be a path under assets/ inside the archive."
ASSET_NEEDS_ARCHIVE = "{path}.file: this export refers to a file, so it must be imported as the ZIP archive."
ASSET_BAD_DATA_URL = "{path}.data_url: not a base64 data URL."
ASSET_CHECKSUM = "{path}: the file's sha256 does not match the export ({name}); the archive is damaged."
ASSET_REFUSED = "{path} ({name}): {reason}"
ASSET_WRONG_KIND = "{path} ({name}): the export says {declared}, but the file is {actual}."
ASSET_DUPLICATE_KEY = "{path}.key: {key!r} appears twice."

_DATA_URL_RE = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,(.*)$", re.DOTALL)


@dataclass
class ImportResult:
    dry_run: bool
    kind: str
    created: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    assets: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.created.items()}

    def as_dict(self) -> dict[str, Any]:
        created = {
            name: [{k: v for k, v in item.items() if not (self.dry_run and k == "id")} for item in items]
            for name, items in self.created.items()
        }
        return {
            "dry_run": self.dry_run,
            "kind": self.kind,
            "counts": {**self.counts, "assets": self.assets},
            "created": created,
            "notes": self.notes,
        }


class _DryRun(Exception):
    pass


# --- exports (downloads) ---------------------------------------------------------------------------


def _record_export(
    *,
    kind: str,
    user: User | None,
    workspace: Workspace | int,
    target: Any,
    export: exporters.ExportFile,
    fmt: str,
    media: str,
    **extra: Any,
) -> None:
    produced = "zip" if export.content_type == exporters.CONTENT_TYPES["zip"] else fmt
    details = {
        "format": produced,
        "media": media,
        "file": export.filename,
        "bytes": len(export.data),
        **extra,
        "via": request_channel(),
    }
    record(action=f"export.{kind}", actor=user, workspace=workspace, target=target, details=details)


def prompt_export(
    *, user: User | None, prompt: Any, fmt: str, version: int | None = None, media: str = MEDIA_DATA_URL
) -> exporters.ExportFile:
    """A prompt (every version, or version ``version``) as a file; one ``export.prompt`` event."""
    export = exporters.prompt_export(prompt=prompt, fmt=fmt, version=version, media=media)
    _record_export(
        kind="prompt",
        user=user,
        workspace=prompt.workspace_id,
        target=prompt,
        export=export,
        fmt=fmt,
        media=media,
        versions="all" if version is None else version,
    )
    return export


def template_export(*, user: User | None, template: Any, fmt: str, media: str = MEDIA_DATA_URL) -> exporters.ExportFile:
    export = exporters.template_export(template=template, fmt=fmt, media=media)
    _record_export(
        kind="template",
        user=user,
        workspace=template.workspace_id,
        target=template,
        export=export,
        fmt=fmt,
        media=media,
    )
    return export


def dataset_export(*, user: User | None, dataset: Any, fmt: str, media: str = MEDIA_DATA_URL) -> exporters.ExportFile:
    export = exporters.dataset_export(dataset=dataset, fmt=fmt, media=media)
    _record_export(
        kind="dataset", user=user, workspace=dataset.workspace_id, target=dataset, export=export, fmt=fmt, media=media
    )
    return export


def abtest_export(*, user: User | None, test: Any, fmt: str, media: str = MEDIA_DATA_URL) -> exporters.ExportFile:
    export = exporters.abtest_export(test=test, fmt=fmt, media=media)
    _record_export(
        kind="abtest", user=user, workspace=test.workspace_id, target=test, export=export, fmt=fmt, media=media
    )
    return export


def runs_export(
    *,
    user: User | None,
    workspace: Workspace,
    runs: Any,
    fmt: str,
    media: str = MEDIA_DATA_URL,
    prompt_id: int | None = None,
) -> exporters.ExportFile:
    """The workspace's runs (``runs``, already filtered to ``prompt_id`` when given) as a file."""
    from prompts.models import Prompt

    export = exporters.runs_export(workspace_id=workspace.pk, runs=runs, fmt=fmt, media=media)
    prompt = Prompt.objects.filter(workspace=workspace, pk=prompt_id).first() if prompt_id is not None else None
    extra = {"prompt": prompt_id} if prompt_id is not None else {}
    _record_export(
        kind="runs",
        user=user,
        workspace=workspace,
        target=prompt if prompt is not None else workspace,
        export=export,
        fmt=fmt,
        media=media,
        **extra,
    )
    return export


def workspace_export(
    *, user: User | None, workspace: Workspace, media: str = MEDIA_ARCHIVE, fmt: str = "zip"
) -> exporters.ExportFile:
    """The whole workspace as one archive (or one JSON/YAML document); one ``export.workspace`` event."""
    export = exporters.workspace_export(workspace=workspace, media=media, fmt=fmt)
    _record_export(
        kind="workspace", user=user, workspace=workspace, target=workspace, export=export, fmt=fmt, media=media
    )
    return export


# --- reading an upload -----------------------------------------------------------------------------


def read_upload(upload: Any) -> bytes:
    """The upload's bytes, refusing anything over the import limit before reading it all."""
    maximum = max_import_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > maximum:
        raise ImportRefused(FILE_TOO_LARGE.format(size=human_size(size), limit=human_size(maximum)))
    if hasattr(upload, "seek"):
        upload.seek(0)
    if hasattr(upload, "chunks"):
        chunks, total = [], 0
        for chunk in upload.chunks():
            total += len(chunk)
            if total > maximum:
                raise ImportRefused(
                    FILE_TOO_LARGE.format(size=f"over {human_size(maximum)}", limit=human_size(maximum))
                )
            chunks.append(chunk)
        data = b"".join(chunks)
    else:
        data = upload.read(maximum + 1)
        if len(data) > maximum:
            raise ImportRefused(FILE_TOO_LARGE.format(size=f"over {human_size(maximum)}", limit=human_size(maximum)))
    if not data:
        raise ImportRefused(EMPTY_FILE)
    return data


def parse_export(data: bytes, *, name: str = "") -> tuple[dict[str, Any], Archive | None]:
    """The export document (sections assembled from an archive) and the archive, if it was one."""
    if is_zip(data) or name.lower().endswith(".zip"):
        archive = open_archive(data)
        if not archive.has(MANIFEST):
            raise ImportRefused(ZIP_NO_MANIFEST)
        try:
            manifest = load_json(archive.read(MANIFEST).decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ImportRefused(IN_FILE.format(file=MANIFEST, error="not UTF-8 text")) from None
        except ImportRefused as exc:
            raise ImportRefused(IN_FILE.format(file=MANIFEST, error=exc.text)) from None
        document = dict(check_header(manifest))
        contents = document.pop("contents", None) or {}
        document.pop("counts", None)
        if not isinstance(contents, dict):
            raise ImportRefused("manifest.json: contents must be an object of section: file.")
        for section, file_name in contents.items():
            if not isinstance(file_name, str) or safe_name(file_name) != file_name or not file_name.endswith(".json"):
                raise ImportRefused(BAD_CONTENTS.format(name=section))
            try:
                document[section] = load_json(archive.read(file_name).decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise ImportRefused(IN_FILE.format(file=file_name, error="not UTF-8 text")) from None
            except ImportRefused as exc:
                raise ImportRefused(IN_FILE.format(file=file_name, error=exc.text)) from None
        return document, archive
    document = load_document(data, name=name)
    return dict(check_header(document)), None


def _check_sections(document: dict[str, Any]) -> None:
    known = {h.name for h in handlers()}
    for key in document:
        if key not in HEADER_KEYS and key not in known:
            raise ImportRefused(UNKNOWN_SECTION.format(name=key, known=", ".join(sorted(known))))
        if key in known:
            as_list(document[key], key)


# --- assets ----------------------------------------------------------------------------------------


def _asset_bytes(entry: dict[str, Any], path: str, archive: Archive | None) -> tuple[bytes, str]:
    file_name = entry.get("file")
    data_url = entry.get("data_url")
    if isinstance(file_name, str) and file_name:
        if safe_name(file_name) != file_name or not file_name.startswith("assets/"):
            raise ImportRefused(ASSET_FILE_OUTSIDE.format(path=path, name=file_name))
        if archive is None:
            raise ImportRefused(ASSET_NEEDS_ARCHIVE.format(path=path))
        return archive.read(file_name), file_name
    if isinstance(data_url, str) and data_url:
        match = _DATA_URL_RE.match(data_url)
        if match is None:
            raise ImportRefused(ASSET_BAD_DATA_URL.format(path=path))
        try:
            return base64.b64decode(match.group(2), validate=True), "data URL"
        except (binascii.Error, ValueError):
            raise ImportRefused(ASSET_BAD_DATA_URL.format(path=path)) from None
    raise ImportRefused(ASSET_NO_SOURCE.format(path=path))


def _import_assets(document: dict[str, Any], archive: Archive | None, ctx: ImportContext, written: list[str]) -> int:
    from prompts.assets import AssetError, clean_name
    from prompts.services import asset_create

    entries = as_list(document.get("assets"), "assets", required=False)
    for i, raw in enumerate(entries):
        path = f"assets[{i}]"
        entry = as_object(raw, path)
        key = field_of(entry, "key", path, str)
        if key in ctx.asset_map:
            raise ImportRefused(ASSET_DUPLICATE_KEY.format(path=path, key=key))
        data, source = _asset_bytes(entry, path, archive)
        declared_sha = entry.get("sha256")
        if isinstance(declared_sha, str) and declared_sha and hashlib.sha256(data).hexdigest() != declared_sha:
            raise ImportRefused(ASSET_CHECKSUM.format(path=path, name=source))
        name = clean_name(field_of(entry, "original_name", path, str, default="")) or source.rsplit("/", 1)[-1]
        try:
            asset, created = asset_create(workspace=ctx.workspace, user=ctx.user, upload=ContentFile(data, name=name))
        except AssetError as exc:
            raise ImportRefused(ASSET_REFUSED.format(path=path, name=source, reason=exc.text)) from None
        declared_kind = entry.get("kind")
        if isinstance(declared_kind, str) and declared_kind and declared_kind != asset.kind:
            raise ImportRefused(
                ASSET_WRONG_KIND.format(path=path, name=source, declared=declared_kind, actual=asset.kind)
            )
        if created:
            written.append(asset.file.name)
            if asset.thumbnail:
                written.append(asset.thumbnail.name)
        ctx.asset_map[key] = str(asset.pk)
    return len(entries)


def _delete_orphans(names: list[str]) -> None:
    """Files stored by an import that was rolled back (no asset row refers to them any more)."""
    from prompts.models import Asset

    for name in names:
        if not Asset.objects.filter(file=name).exists() and not Asset.objects.filter(thumbnail=name).exists():
            default_storage.delete(name)


# --- the import ------------------------------------------------------------------------------------


def _file_format(data: bytes, name: str, archive: Archive | None) -> str:
    """zip, json or yaml: how ``parse_export`` read the file."""
    if archive is not None:
        return "zip"
    return "json" if name.lower().endswith(".json") or data.lstrip()[:1] in (b"{", b"[") else "yaml"


def bundle_import(*, workspace: Workspace, user: User | None, upload: Any, dry_run: bool = False) -> ImportResult:
    """Import an export file into ``workspace`` with new ids; all or nothing. Raises ``ImportRefused``."""
    return _bundle_import(
        workspace=workspace,
        user=user,
        data=read_upload(upload),
        name=getattr(upload, "name", "") or "",
        dry_run=dry_run,
    )


def _bundle_import(*, workspace: Workspace, user: User | None, data: bytes, name: str, dry_run: bool) -> ImportResult:
    document, archive = parse_export(data, name=name)
    return document_import(
        workspace=workspace,
        user=user,
        document=document,
        archive=archive,
        dry_run=dry_run,
        file_name=name,
        file_format=_file_format(data, name, archive),
    )


# The section holding an export's main object, by the export's kind (the audit event's target).
_MAIN_SECTION = {"prompt": "prompts", "template": "templates", "dataset": "datasets", "abtest": "abtests"}


def _import_target(kind: str, created: dict[str, list[dict[str, Any]]], workspace: Workspace) -> Any:
    """The one object a single-object export created, else the workspace that received the import."""
    from exports.registry import get_handler

    section = _MAIN_SECTION.get(kind)
    items = created.get(section, []) if section else []
    if len(items) == 1:
        obj = get_handler(section).queryset(workspace.pk).filter(pk=items[0]["id"]).first()  # type: ignore[arg-type]
        if obj is not None:
            return obj
    return workspace


def document_import(
    *,
    workspace: Workspace,
    user: User | None,
    document: dict[str, Any],
    archive: Archive | None = None,
    dry_run: bool = False,
    file_name: str = "",
    file_format: str = "",
) -> ImportResult:
    _check_sections(document)
    result = ImportResult(dry_run=dry_run, kind=str(document.get("kind") or ""))
    written: list[str] = []
    try:
        with transaction.atomic():
            ctx = ImportContext(workspace=workspace, user=user)
            result.assets = _import_assets(document, archive, ctx, written)
            for handler in handlers():
                items = document.get(handler.name)
                if items:
                    handler.import_items(items, ctx, handler.name)
            result.created = {name: list(items) for name, items in ctx.created.items()}
            result.notes = list(ctx.notes)
            if dry_run:
                raise _DryRun
            record(
                action="import.studio",
                actor=user,
                workspace=workspace,
                target=_import_target(result.kind, result.created, workspace),
                details={
                    "kind": result.kind[:40],
                    "format": file_format or ("zip" if archive is not None else "json"),
                    "file": file_name[:200],
                    "assets": result.assets,
                    "created": result.counts,
                    "via": request_channel(),
                },
            )
    except _DryRun:
        _delete_orphans(written)
        return result
    except BaseException:
        _delete_orphans(written)
        raise
    return result


# --- promptfoo ---------------------------------------------------------------------------------------

ABTEST_VARIANT_COUNT = (
    "An A/B test needs {low} to {high} variants (prompts x providers) and this config makes {count}, so no test "
    "was created; the dataset and one prompt per promptfoo prompt were."
)


@dataclass
class PromptfooResult:
    dry_run: bool
    spec: dict[str, Any]
    report: list[dict[str, str]]
    created: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        created = {
            name: [{k: v for k, v in item.items() if not (self.dry_run and k == "id")} for item in items]
            for name, items in self.created.items()
        }
        return {
            "dry_run": self.dry_run,
            "counts": {name: len(items) for name, items in self.created.items()},
            "created": created,
            "unmapped": self.report,
        }


def abtest_from_spec(
    *, workspace: Workspace, user: User | None, spec: dict[str, Any], dataset: Any, versions: list[Any]
) -> Any | None:
    """The one place to wire promptfoo imports to the A/B test model: create the test from ``spec``.

    ``versions[i]`` is the prompt version made for ``spec["prompts"][i]``; ``spec["variants"]`` pairs
    them with ``spec["providers"]``; ``spec["evaluators"]`` are validated evaluator configs for the
    dataset's columns. Returns None when the config makes too few or too many variants for a test.
    """
    from abtests import services as abtest_services
    from abtests.models import MAX_VARIANTS, MIN_VARIANTS
    from exports.handlers import refused

    variants = []
    names: set[str] = set()
    for variant in spec["variants"]:
        version = versions[variant["prompt"]]
        provider = spec["providers"][variant["provider"]]
        base = f"{spec['prompts'][variant['prompt']]['label']} / {provider['label'] or provider['model']}"[:95]
        name, n = base, 2
        while name in names:
            name, n = f"{base} {n}", n + 1
        names.add(name)
        variants.append(
            {
                "name": name,
                "prompt_version": version.pk,
                "provider": provider["provider"],
                "model": provider["model"],
                "params": provider["params"],
            }
        )
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        return None
    try:
        return abtest_services.abtest_create(
            workspace=workspace,
            user=user,
            name=spec["name"],
            description=spec["description"],
            dataset=dataset,
            variants=variants,
            evaluators=spec["evaluators"],
        )
    except ValidationError as exc:
        raise refused("(A/B test)", exc) from None


def promptfoo_import(*, workspace: Workspace, user: User | None, upload: Any, dry_run: bool = False) -> PromptfooResult:
    """A promptfoo config (YAML or JSON) as a dataset, one prompt per promptfoo prompt, and an A/B test."""

    from abtests.models import Dataset
    from abtests.services import dataset_create
    from exports.handlers import refused
    from exports.promptfoo import config_to_spec
    from prompts.services import prompt_create

    data = read_upload(upload)
    upload_name = getattr(upload, "name", "") or ""
    config = load_document(data, name=upload_name)
    stem = (upload_name or "promptfoo").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    spec, report = config_to_spec(config, name=f"promptfoo {stem}")
    result = PromptfooResult(dry_run=dry_run, spec=spec, report=report.items)
    created: dict[str, list[dict[str, Any]]] = {"prompts": [], "datasets": [], "abtests": []}
    try:
        with transaction.atomic():
            name, n = spec["dataset"]["name"], 2
            while Dataset.objects.filter(workspace=workspace, name=name).exists():
                name = f"{spec['dataset']['name']} ({n})"[:200]
                n += 1
            try:
                dataset = dataset_create(
                    workspace=workspace,
                    user=user,
                    name=name,
                    description=spec["description"],
                    columns=spec["dataset"]["columns"],
                    rows=spec["dataset"]["rows"],
                )
            except ValidationError as exc:
                raise refused("tests", exc) from None
            created["datasets"].append({"id": dataset.pk, "name": dataset.name})
            first = spec["providers"][0]
            versions = []
            for i, item in enumerate(spec["prompts"]):
                content = {
                    **item["content"],
                    "model": {"provider": first["provider"], "name": first["model"], **first["params"]},
                }
                try:
                    prompt = prompt_create(
                        workspace=workspace,
                        user=user,
                        name=f"{spec['name']}: {item['label']}"[:200],
                        content=content,
                        message="Imported from promptfoo",
                    )
                except ValidationError as exc:
                    raise refused(f"prompts[{i}]", exc) from None
                versions.append(prompt.versions.get())
                created["prompts"].append({"id": prompt.pk, "name": prompt.name})
            test = abtest_from_spec(workspace=workspace, user=user, spec=spec, dataset=dataset, versions=versions)
            if test is None:
                from abtests.models import MAX_VARIANTS, MIN_VARIANTS

                reason = ABTEST_VARIANT_COUNT.format(low=MIN_VARIANTS, high=MAX_VARIANTS, count=len(spec["variants"]))
                result.report.append({"where": "(A/B test)", "item": spec["name"], "reason": reason})
            else:
                created["abtests"].append({"id": test.pk, "name": str(test)})
            result.created = created
            if dry_run:
                raise _DryRun
            record(
                action="import.promptfoo",
                actor=user,
                workspace=workspace,
                target=test if test is not None else dataset,
                details={
                    "format": _file_format(data, upload_name, None),
                    "file": upload_name[:200],
                    "created": {name: len(items) for name, items in created.items()},
                    "unmapped": len(result.report),
                    "via": request_channel(),
                },
            )
    except _DryRun:
        pass
    return result


def import_any(
    *, workspace: Workspace, user: User | None, upload: Any, dry_run: bool = False, kind: str = "auto"
) -> ImportResult | PromptfooResult:
    """A studio export (JSON, YAML or ZIP) or a promptfoo config, told apart by content (or ``kind``)."""
    if kind == "promptfoo":
        return promptfoo_import(workspace=workspace, user=user, upload=upload, dry_run=dry_run)
    data = read_upload(upload)
    name = getattr(upload, "name", "") or ""
    if kind == "auto" and not is_zip(data):
        document = load_document(data, name=name)
        if (
            isinstance(document, dict)
            and "format" not in document
            and ("prompts" in document or "providers" in document)
        ):
            return promptfoo_import(workspace=workspace, user=user, upload=upload, dry_run=dry_run)
    return _bundle_import(workspace=workspace, user=user, data=data, name=name, dry_run=dry_run)
