"""Exports (reads only): one object or a whole workspace as JSON, YAML, CSV, JSONL or a ZIP archive.

``build_document`` turns handler output into an export document: it rewrites asset ids to asset keys
(their sha256) and either embeds each asset as a data URL or lists it as ``assets/<sha256>.<ext>``,
a file that ``render`` then writes into the ZIP next to ``manifest.json``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from exports.archive import write_archive
from exports.formats import (
    FORMAT,
    FORMAT_VERSION,
    MEDIA_ARCHIVE,
    MEDIA_DATA_URL,
    MEDIA_MODES,
    ImportRefused,
    dump_csv,
    dump_json,
    dump_jsonl,
    dump_yaml,
)
from exports.registry import ExportContext, get_handler, handlers, rewrite_assets

DOCUMENT_FORMATS = ("json", "yaml")
TABLE_FORMATS = ("csv", "jsonl")
BAD_FORMAT = "format must be one of {choices}."
BAD_MEDIA = "media must be data-url or archive."

CONTENT_TYPES = {
    "json": "application/json",
    "yaml": "application/yaml",
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "zip": "application/zip",
}


@dataclass
class ExportFile:
    data: bytes
    content_type: str
    filename: str


@dataclass
class Bundle:
    document: dict[str, Any]
    files: dict[str, bytes]  # archive members besides the manifest (assets)


def check_choice(value: str, choices: tuple[str, ...], message: str) -> str:
    if value not in choices:
        raise ImportRefused(message.format(choices=", ".join(choices)))
    return value


def build_document(
    *, workspace_id: int, kind: str, sections: dict[str, list[dict[str, Any]]], ctx: ExportContext, media: str
) -> Bundle:
    from prompts.models import Asset

    check_choice(media, MEDIA_MODES, BAD_MEDIA)
    assets = list(Asset.objects.filter(workspace_id=workspace_id, pk__in=list(ctx.asset_ids)).order_by("sha256"))
    mapping = {str(asset.pk): asset.sha256 for asset in assets}
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    for asset in assets:
        data = asset.read_bytes()
        entry: dict[str, Any] = {
            "key": asset.sha256,
            "kind": asset.kind,
            "mime_type": asset.mime_type,
            "original_name": asset.original_name,
            "size": asset.size,
            "sha256": asset.sha256,
        }
        if media == MEDIA_ARCHIVE:
            path = f"assets/{asset.sha256}.{asset.extension or 'bin'}"
            entry["file"] = path
            files[path] = data
        else:
            entry["data_url"] = f"data:{asset.mime_type};base64,{base64.b64encode(data).decode('ascii')}"
        entries.append(entry)
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "exported_at": timezone.now().isoformat(),
        "media": media,
        "assets": entries,
    }
    for name, items in sections.items():
        document[name] = rewrite_assets(items, mapping)
    return Bundle(document=document, files=files)


def render(bundle: Bundle, *, fmt: str, basename: str) -> ExportFile:
    """The bundle as one file: JSON or YAML (data-URL media), or a ZIP (manifest + sections + assets)."""
    if bundle.document["media"] == MEDIA_ARCHIVE or fmt == "zip":
        return ExportFile(archive_bytes(bundle), CONTENT_TYPES["zip"], f"{basename}.zip")
    if fmt == "yaml":
        return ExportFile(dump_yaml(bundle.document).encode(), CONTENT_TYPES["yaml"], f"{basename}.yaml")
    return ExportFile(dump_json(bundle.document).encode(), CONTENT_TYPES["json"], f"{basename}.json")


def archive_bytes(bundle: Bundle) -> bytes:
    """A ZIP: manifest.json (header, assets, which file holds which section), <section>.json, assets/."""
    manifest = {k: v for k, v in bundle.document.items() if not isinstance(v, list) or k == "assets"}
    sections = {k: v for k, v in bundle.document.items() if isinstance(v, list) and k != "assets"}
    manifest["contents"] = {name: f"{name}.json" for name in sections}
    manifest["counts"] = {name: len(items) for name, items in sections.items()}
    files = {f"{name}.json": dump_json(items).encode() for name, items in sections.items()}
    files.update(bundle.files)
    return write_archive(manifest, files)


def _basename(name: str, fallback: str) -> str:
    return slugify(name)[:80] or fallback


# --- one object -----------------------------------------------------------------------------------


def prompt_export(*, prompt: Any, fmt: str, version: int | None = None, media: str = MEDIA_DATA_URL) -> ExportFile:
    """A prompt with every version, its labels and label history (or one version and its labels)."""
    check_choice(fmt, DOCUMENT_FORMATS, BAD_FORMAT)
    handler = get_handler("prompts")
    ctx = ExportContext(workspace_id=prompt.workspace_id)
    from prompts.models import Prompt

    items = handler.export(Prompt.objects.filter(pk=prompt.pk), ctx, version=version)  # type: ignore[call-arg]
    bundle = build_document(
        workspace_id=prompt.workspace_id, kind="prompt", sections={"prompts": items}, ctx=ctx, media=media
    )
    suffix = f"-v{version}" if version is not None else ""
    return render(bundle, fmt=fmt, basename=_basename(prompt.slug, "prompt") + suffix)


def template_export(*, template: Any, fmt: str, media: str = MEDIA_DATA_URL) -> ExportFile:
    check_choice(fmt, DOCUMENT_FORMATS, BAD_FORMAT)
    ctx = ExportContext(workspace_id=template.workspace_id)
    items = get_handler("templates").export([template], ctx)
    bundle = build_document(
        workspace_id=template.workspace_id, kind="template", sections={"templates": items}, ctx=ctx, media=media
    )
    return render(bundle, fmt=fmt, basename=_basename(template.slug, "template"))


def _media_cell(value: Any, assets: dict[str, Any], media: str, files: dict[str, bytes]) -> Any:
    """A dataset media cell for a table: the archive path, a data URL, or the URL it already was."""
    if isinstance(value, dict) and "asset" in value:
        asset = assets.get(str(value["asset"]))
        if asset is None:
            return value["asset"]
        data = asset.read_bytes()
        if media == MEDIA_ARCHIVE:
            path = f"assets/{asset.sha256}.{asset.extension or 'bin'}"
            files[path] = data
            return path
        return f"data:{asset.mime_type};base64,{base64.b64encode(data).decode('ascii')}"
    if isinstance(value, dict) and "url" in value:
        return value["url"]
    return value


def dataset_export(*, dataset: Any, fmt: str, media: str = MEDIA_DATA_URL) -> ExportFile:
    """A dataset as an export document (json/yaml) or a table (csv/jsonl; with archive media, a ZIP of
    the table and its files that the dataset importer reads back)."""
    from abtests.models import Dataset

    check_choice(fmt, DOCUMENT_FORMATS + TABLE_FORMATS, BAD_FORMAT)
    check_choice(media, MEDIA_MODES, BAD_MEDIA)
    basename = _basename(dataset.name, "dataset")
    if fmt in DOCUMENT_FORMATS:
        ctx = ExportContext(workspace_id=dataset.workspace_id)
        items = get_handler("datasets").export(Dataset.objects.filter(pk=dataset.pk), ctx)
        bundle = build_document(
            workspace_id=dataset.workspace_id, kind="dataset", sections={"datasets": items}, ctx=ctx, media=media
        )
        return render(bundle, fmt=fmt, basename=basename)
    from prompts.models import Asset

    columns = [c["name"] for c in dataset.columns]
    media_columns = [c["name"] for c in dataset.columns if c["type"] in ("image", "audio", "document")]
    rows = [row.values for row in dataset.rows.order_by("index")]
    ctx = ExportContext(workspace_id=dataset.workspace_id)
    ctx.collect(rows)
    assets = {str(a.pk): a for a in Asset.objects.filter(workspace_id=dataset.workspace_id, pk__in=list(ctx.asset_ids))}
    files: dict[str, bytes] = {}
    table = [
        {
            name: (_media_cell(values.get(name), assets, media, files) if name in media_columns else values.get(name))
            for name in columns
        }
        for values in rows
    ]
    text = dump_csv(columns, table) if fmt == "csv" else dump_jsonl(table)
    if media == MEDIA_ARCHIVE and files:
        import io
        import zipfile

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{basename}.{fmt}", text)
            for path, data in files.items():
                archive.writestr(path, data, compress_type=zipfile.ZIP_STORED)
        return ExportFile(out.getvalue(), CONTENT_TYPES["zip"], f"{basename}.zip")
    return ExportFile(text.encode(), CONTENT_TYPES[fmt], f"{basename}.{fmt}")


def runs_export(*, workspace_id: int, runs: Any, fmt: str, media: str = MEDIA_DATA_URL) -> ExportFile:
    """Runs as an export document (json/yaml: media referenced by their assets) or a flat table."""
    check_choice(fmt, DOCUMENT_FORMATS + TABLE_FORMATS, BAD_FORMAT)
    handler = get_handler("runs")
    ctx = ExportContext(workspace_id=workspace_id)
    items = handler.export(runs, ctx)
    if fmt in DOCUMENT_FORMATS:
        bundle = build_document(workspace_id=workspace_id, kind="runs", sections={"runs": items}, ctx=ctx, media=media)
        return render(bundle, fmt=fmt, basename="runs")
    columns = list(handler.table_columns)
    text = dump_csv(columns, items) if fmt == "csv" else dump_jsonl(items)
    return ExportFile(text.encode(), CONTENT_TYPES[fmt], f"runs.{fmt}")


# --- a whole workspace ----------------------------------------------------------------------------


def workspace_bundle(*, workspace_id: int, media: str = MEDIA_ARCHIVE) -> Bundle:
    """Every object of every registered type, and every asset of the workspace."""
    from prompts.models import Asset

    ctx = ExportContext(workspace_id=workspace_id)
    sections: dict[str, list[dict[str, Any]]] = {}
    for handler in handlers():
        sections[handler.name] = handler.export(handler.queryset(workspace_id), ctx)
    ctx.asset_ids |= {str(pk) for pk in Asset.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True)}
    return build_document(workspace_id=workspace_id, kind="workspace", sections=sections, ctx=ctx, media=media)


def workspace_export(*, workspace: Any, media: str = MEDIA_ARCHIVE, fmt: str = "zip") -> ExportFile:
    bundle = workspace_bundle(workspace_id=workspace.pk, media=media)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return render(bundle, fmt=fmt, basename=f"{_basename(workspace.name, 'workspace')}-{stamp}")


# --- A/B tests ------------------------------------------------------------------------------------

TEST_FORMATS = ("json", "yaml", "csv", "jsonl", "promptfoo")


def abtest_results(test: Any) -> dict[str, Any] | None:
    """The statistics over the test's finished trials (control against each variant), or None."""
    from abtests.statistics import Outcome, compare_variants

    by_variant: dict[str, list[Outcome]] = {}
    for trial in test.trials.select_related("variant").filter(passed__isnull=False):
        by_variant.setdefault(trial.variant.name, []).append(
            Outcome(
                key=(trial.row_index, trial.repetition),
                passed=bool(trial.passed),
                score=float(trial.score or 0.0),
                latency_ms=trial.latency_ms,
                cost=float(trial.cost),
                tokens=trial.input_tokens + trial.output_tokens,
            )
        )
    control = test.control.name if test.control_id else next(iter(by_variant), None)
    if control is None or control not in by_variant or len(by_variant) < 2:
        return None
    others = {name: rows for name, rows in by_variant.items() if name != control}
    try:
        return compare_variants(
            by_variant[control], others, control_name=control, pairs_per_row=max(test.repetitions, 1)
        ).as_dict()
    except ValueError:
        return None


def abtest_export(*, test: Any, fmt: str, media: str = MEDIA_DATA_URL) -> ExportFile:
    """An A/B test with its variants, trials and results (json/yaml), its trials as a table (csv/jsonl),
    or a promptfoo config (YAML)."""
    from abtests.models import ABTest

    check_choice(fmt, TEST_FORMATS, BAD_FORMAT)
    basename = _basename(test.name, "abtest")
    if fmt == "promptfoo":
        from exports.promptfoo import dump_config, spec_from_abtest, spec_to_config

        config, report = spec_to_config(spec_from_abtest(test))
        text = dump_config(config)
        if report:
            lines = [f"#   {item['where']} ({item['item']}): {item['reason']}" for item in report.items]
            text = "# Not exported (promptfoo has no equivalent):\n" + "\n".join(lines) + "\n" + text
        return ExportFile(text.encode(), CONTENT_TYPES["yaml"], f"{basename}.promptfooconfig.yaml")
    handler = get_handler("abtests")
    ctx = ExportContext(workspace_id=test.workspace_id)
    (item,) = handler.export(ABTest.objects.filter(pk=test.pk), ctx)
    if fmt in DOCUMENT_FORMATS:
        item["results"] = abtest_results(test)
        bundle = build_document(
            workspace_id=test.workspace_id, kind="abtest", sections={"abtests": [item]}, ctx=ctx, media=media
        )
        return render(bundle, fmt=fmt, basename=basename)
    rows = {r["index"]: r["values"] for r in ((item.get("snapshot") or {}).get("rows") or [])}
    table = [{**trial, "vars": rows.get(trial["row_index"])} for trial in item["trials"]]
    columns = list(handler.table_columns)
    text = dump_csv(columns, table) if fmt == "csv" else dump_jsonl([{k: r.get(k) for k in columns} for r in table])
    return ExportFile(text.encode(), CONTENT_TYPES[fmt], f"{basename}-trials.{fmt}")
