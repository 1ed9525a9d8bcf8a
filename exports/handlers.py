"""Built-in handlers: prompts (versions, labels, label history), templates, datasets (rows) and runs.

Objects are exported without database ids that matter on import: prompts are named by slug, versions by
number, datasets by name; a run names its prompt's slug and version number. ``id`` fields are kept
for information only. Authors and credentials are not exported (an archive may leave the team; API
keys never leave the studio); imported objects belong to the importing user.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Prefetch, QuerySet

from exports.formats import ImportRefused
from exports.registry import (
    ExportContext,
    Handler,
    ImportContext,
    as_list,
    as_object,
    field_of,
    iso,
    register,
    timestamp,
)

DUPLICATE_VERSION = "{path}: version {number} appears twice."
BAD_VERSION_NUMBER = "{path}.number: must be a whole number of at least 1."
UNKNOWN_VERSION_REF = "{path}: refers to version {number}, which is not in this prompt's export."
SLUG_RENAMED = "Prompt “{name}”: the slug {old} is taken in this workspace, so it was imported as {new}."
TEMPLATE_SLUG_RENAMED = "Template “{name}”: the slug {old} is taken in this workspace, so it was imported as {new}."
DATASET_RENAMED = "Dataset “{old}” already exists in this workspace, so it was imported as “{new}”."
UNKNOWN_CATEGORY = "Template “{name}”: category {category!r} does not exist here; it was put in “Other”."
RUN_PROMPT_MISSING = (
    "{count} run(s) refer to a prompt version that is not in this workspace; they were kept without it."
)
BAD_CHOICE = "{path}: {value!r} is not one of {choices}."
BAD_NUMBER = "{path}: must be a non-negative number."


def _error_text(exc: ValidationError) -> str:
    """One line from a service's ValidationError (``field: message``)."""
    if hasattr(exc, "error_dict"):
        parts = []
        for name, errors in exc.message_dict.items():
            for message in errors:
                parts.append(message if name in ("__all__", "file") else f"{name}: {message}")
        return "; ".join(parts)
    return "; ".join(exc.messages)


def refused(path: str, exc: ValidationError) -> ImportRefused:
    if isinstance(exc, ImportRefused):  # already names its place
        return exc
    return ImportRefused(f"{path}: {_error_text(exc)}")


# --- prompts ---------------------------------------------------------------------------------------


@register
class PromptHandler(Handler):
    name = "prompts"
    label = "Prompts"
    order = 10

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        from prompts.models import Prompt

        return Prompt.objects.filter(workspace_id=workspace_id).order_by("slug")

    def prefetched(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from prompts.models import Label, LabelMove, PromptVersion

        return queryset.prefetch_related(
            Prefetch("versions", queryset=PromptVersion.objects.order_by("number")),
            Prefetch("labels", queryset=Label.objects.select_related("version").order_by("name")),
            Prefetch(
                "label_moves",
                queryset=LabelMove.objects.select_related("from_version", "to_version").order_by("at", "id"),
            ),
        )

    def export(self, objects: Any, ctx: ExportContext, *, version: int | None = None) -> list[dict[str, Any]]:
        if isinstance(objects, QuerySet):
            objects = self.prefetched(objects)
        out = []
        for prompt in objects:
            versions = [v for v in prompt.versions.all() if version is None or v.number == version]
            numbers = {v.number for v in versions}
            item = {
                "id": prompt.pk,
                "name": prompt.name,
                "slug": prompt.slug,
                "description": prompt.description,
                "tags": list(prompt.tags or []),
                "archived": prompt.archived,
                "created_at": iso(prompt.created_at),
                "versions": [
                    {
                        "number": v.number,
                        "message": v.message,
                        "created_at": iso(v.created_at),
                        "content": v.content,
                    }
                    for v in versions
                ],
                "labels": [
                    {"name": label.name, "version": label.version.number}
                    for label in prompt.labels.all()
                    if label.version.number in numbers
                ],
                "label_history": []
                if version is not None
                else [
                    {
                        "label": move.label,
                        "from_version": move.from_version.number if move.from_version else None,
                        "to_version": move.to_version.number if move.to_version else None,
                        "at": iso(move.at),
                    }
                    for move in prompt.label_moves.all()
                ],
            }
            ctx.collect(item)
            out.append(item)
        return out

    def describe(self, item: dict[str, Any]) -> str:
        count = len(item.get("versions") or [])
        return f"{item.get('name')} ({count} version{'s' if count != 1 else ''})"

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        from prompts.content import ContentError
        from prompts.models import Label, LabelMove, Prompt, PromptVersion, validate_label_name
        from prompts.services import prompt_create, prompt_update, unique_slug, version_create

        for i, raw in enumerate(items):
            where = f"{path}[{i}]"
            item = as_object(raw, where)
            name = field_of(item, "name", where, str)
            slug = field_of(item, "slug", where, str, default="")
            created_at = timestamp(item.get("created_at"), f"{where}.created_at")
            versions = as_list(item.get("versions"), f"{where}.versions", required=False)
            numbers: set[int] = set()
            for j, raw_version in enumerate(versions):
                v_where = f"{where}.versions[{j}]"
                number = as_object(raw_version, v_where).get("number")
                if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                    raise ImportRefused(BAD_VERSION_NUMBER.format(path=v_where))
                if number in numbers:
                    raise ImportRefused(DUPLICATE_VERSION.format(path=v_where, number=number))
                numbers.add(number)

            new_slug = slug
            if slug and Prompt.objects.filter(workspace=ctx.workspace, slug=slug).exists():
                new_slug = unique_slug(workspace_id=ctx.workspace.pk, name=slug)
                ctx.notes.append(SLUG_RENAMED.format(name=name, old=slug, new=new_slug))
            try:
                prompt = prompt_create(
                    workspace=ctx.workspace,
                    user=ctx.user,
                    name=name,
                    description=field_of(item, "description", where, str, default=""),
                    tags=field_of(item, "tags", where, list, default=[]),
                    slug=new_slug or None,
                )
            except ValidationError as exc:
                raise refused(where, exc) from None

            by_number: dict[int, PromptVersion] = {}
            ordered = sorted(enumerate(versions), key=lambda pair: pair[1]["number"])
            for j, raw_version in ordered:
                v_where = f"{where}.versions[{j}]"
                content = ctx.remap(raw_version.get("content"), f"{v_where}.content")
                try:
                    version, _ = version_create(
                        prompt=prompt,
                        user=ctx.user,
                        content=content,
                        message=field_of(raw_version, "message", v_where, str, default=""),
                    )
                except ContentError as exc:
                    raise ImportRefused(f"{v_where}.content.{exc}") from None
                except ValidationError as exc:
                    raise refused(v_where, exc) from None
                when = timestamp(raw_version.get("created_at"), f"{v_where}.created_at")
                if when is not None:
                    PromptVersion.objects.filter(pk=version.pk).update(created_at=when)
                by_number[raw_version["number"]] = version
                ctx.refs["versions"][(slug or prompt.slug, raw_version["number"])] = version

            def version_ref(
                number: Any, ref_path: str, by_number: dict[int, PromptVersion] = by_number
            ) -> PromptVersion | None:
                if number is None:
                    return None
                if number not in by_number:
                    raise ImportRefused(UNKNOWN_VERSION_REF.format(path=ref_path, number=number))
                return by_number[number]

            for j, raw_label in enumerate(as_list(item.get("labels"), f"{where}.labels", required=False)):
                l_where = f"{where}.labels[{j}]"
                label = as_object(raw_label, l_where)
                label_name = field_of(label, "name", l_where, str)
                try:
                    validate_label_name(label_name)
                except ValidationError as exc:
                    raise refused(l_where, exc) from None
                target = version_ref(label.get("version"), f"{l_where}.version")
                if target is None:
                    raise ImportRefused(f"{l_where}.version: is required.")
                Label.objects.create(prompt=prompt, name=label_name, version=target, updated_by=ctx.user)

            history = as_list(item.get("label_history"), f"{where}.label_history", required=False)
            for j, raw_move in enumerate(history):
                m_where = f"{where}.label_history[{j}]"
                move = as_object(raw_move, m_where)
                created = LabelMove.objects.create(
                    prompt=prompt,
                    label=field_of(move, "label", m_where, str)[:50],
                    from_version=version_ref(move.get("from_version"), f"{m_where}.from_version"),
                    to_version=version_ref(move.get("to_version"), f"{m_where}.to_version"),
                    actor=ctx.user,
                )
                when = timestamp(move.get("at"), f"{m_where}.at")
                if when is not None:
                    LabelMove.objects.filter(pk=created.pk).update(at=when)

            archived = field_of(item, "archived", where, bool, default=False)
            if archived:
                prompt_update(prompt=prompt, archived=True)
            if created_at is not None:
                Prompt.objects.filter(pk=prompt.pk).update(created_at=created_at)
            if slug:
                ctx.refs["prompts"][slug] = prompt
            ctx.record(self.name, prompt, self.describe(item), slug=prompt.slug)


# --- templates -------------------------------------------------------------------------------------


@register
class TemplateHandler(Handler):
    name = "templates"
    label = "Templates"
    order = 20

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        from templates_app.models import Template

        return Template.objects.filter(workspace_id=workspace_id).select_related("category").order_by("slug")

    def export(self, objects: Any, ctx: ExportContext) -> list[dict[str, Any]]:
        out = []
        for template in objects:
            item = {
                "id": template.pk,
                "name": template.name,
                "slug": template.slug,
                "description": template.description,
                "category": template.category.slug,
                "tags": list(template.tags or []),
                "created_at": iso(template.created_at),
                "content": template.content,
            }
            ctx.collect(item)
            out.append(item)
        return out

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        from templates_app.models import Category, Template
        from templates_app.services import template_create

        for i, raw in enumerate(items):
            where = f"{path}[{i}]"
            item = as_object(raw, where)
            name = field_of(item, "name", where, str)
            slug = field_of(item, "slug", where, str, default="")
            category = field_of(item, "category", where, str, default="other")
            if not Category.objects.filter(slug=category).exists():
                ctx.notes.append(UNKNOWN_CATEGORY.format(name=name, category=category))
                category = "other"
            use_slug: str | None = slug or None
            if slug and Template.objects.filter(workspace=ctx.workspace, slug=slug).exists():
                use_slug = None
            try:
                template = template_create(
                    workspace=ctx.workspace,
                    user=ctx.user,
                    name=name,
                    content=ctx.remap(item.get("content"), f"{where}.content"),
                    category=category,
                    description=field_of(item, "description", where, str, default=""),
                    slug=use_slug,
                    tags=field_of(item, "tags", where, list, default=[]),
                )
            except ValidationError as exc:
                raise refused(where, exc) from None
            if slug and template.slug != slug:
                ctx.notes.append(TEMPLATE_SLUG_RENAMED.format(name=name, old=slug, new=template.slug))
            when = timestamp(item.get("created_at"), f"{where}.created_at")
            if when is not None:
                Template.objects.filter(pk=template.pk).update(created_at=when)
            ctx.record(self.name, template, name, slug=template.slug)


# --- datasets --------------------------------------------------------------------------------------


@register
class DatasetHandler(Handler):
    name = "datasets"
    label = "Datasets"
    order = 30

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        from abtests.models import Dataset

        return Dataset.objects.filter(workspace_id=workspace_id).order_by("name")

    def export(self, objects: Any, ctx: ExportContext) -> list[dict[str, Any]]:
        from abtests.models import DatasetRow

        if isinstance(objects, QuerySet):
            objects = objects.prefetch_related(Prefetch("rows", queryset=DatasetRow.objects.order_by("index")))
        out = []
        for dataset in objects:
            item = {
                "id": dataset.pk,
                "name": dataset.name,
                "description": dataset.description,
                "created_at": iso(dataset.created_at),
                "columns": dataset.columns,
                "rows": [row.values for row in dataset.rows.all()],
            }
            ctx.collect(item)
            out.append(item)
        return out

    def describe(self, item: dict[str, Any]) -> str:
        count = len(item.get("rows") or [])
        return f"{item.get('name')} ({count} row{'s' if count != 1 else ''})"

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        from abtests.models import Dataset
        from abtests.services import dataset_create

        for i, raw in enumerate(items):
            where = f"{path}[{i}]"
            item = as_object(raw, where)
            name = field_of(item, "name", where, str)
            new_name = name
            n = 2
            while Dataset.objects.filter(workspace=ctx.workspace, name=new_name).exists():
                new_name = f"{name} ({n})"[:200]
                n += 1
            if new_name != name:
                ctx.notes.append(DATASET_RENAMED.format(old=name, new=new_name))
            rows = as_list(item.get("rows"), f"{where}.rows", required=False)
            try:
                dataset = dataset_create(
                    workspace=ctx.workspace,
                    user=ctx.user,
                    name=new_name,
                    description=field_of(item, "description", where, str, default=""),
                    columns=field_of(item, "columns", where, list, default=[]),
                    rows=[ctx.remap(row, f"{where}.rows[{j}]") for j, row in enumerate(rows)],
                )
            except ValidationError as exc:
                raise refused(where, exc) from None
            when = timestamp(item.get("created_at"), f"{where}.created_at")
            if when is not None:
                Dataset.objects.filter(pk=dataset.pk).update(created_at=when)
            ctx.refs["datasets"][name] = dataset
            ctx.record(self.name, dataset, self.describe({**item, "name": new_name}))


# --- runs ------------------------------------------------------------------------------------------

RUN_TEXT_FIELDS = (
    "provider",
    "model",
    "output",
    "finish_reason",
    "status",
    "error_kind",
    "error_message",
    "provider_request_id",
    "source",
)
RUN_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
RUN_OPTIONAL_INT_FIELDS = ("latency_ms", "ttft_ms")


@register
class RunHandler(Handler):
    name = "runs"
    label = "Runs"
    order = 50
    table_columns = (
        "id",
        "created_at",
        "finished_at",
        "prompt",
        "prompt_version",
        "provider",
        "model",
        "status",
        "source",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "usage_estimated",
        "cost",
        "latency_ms",
        "ttft_ms",
        "finish_reason",
        "error_kind",
        "error_message",
        "retry_after",
        "provider_request_id",
        "params",
        "variables",
        "input",
        "output",
        "warnings",
    )

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        from providers.models import Run

        return (
            Run.objects.filter(workspace_id=workspace_id)
            .select_related("prompt", "prompt_version")
            .order_by("created_at", "id")
        )

    def export(self, objects: Any, ctx: ExportContext) -> list[dict[str, Any]]:
        out = []
        for run in objects:
            item: dict[str, Any] = {
                "id": run.pk,
                "created_at": iso(run.created_at),
                "finished_at": iso(run.finished_at),
                "prompt": run.prompt.slug if run.prompt_id else None,
                "prompt_version": run.prompt_version.number if run.prompt_version_id else None,
            }
            for name in RUN_TEXT_FIELDS:
                item[name] = getattr(run, name)
            for name in RUN_COUNT_FIELDS:
                item[name] = getattr(run, name)
            item.update(
                usage_estimated=run.usage_estimated,
                cost=str(run.cost),
                latency_ms=run.latency_ms,
                ttft_ms=run.ttft_ms,
                retry_after=run.retry_after,
                params=run.params,
                variables=run.variables,
                input=run.input,
                warnings=run.warnings,
            )
            ctx.collect(item)
            out.append(item)
        return out

    def describe(self, item: dict[str, Any]) -> str:
        return f"{item.get('provider')}/{item.get('model')} {item.get('status')}"

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        from prompts.models import PromptVersion
        from providers.models import Provider, Run, RunSource, RunStatus

        runs: list[Run] = []
        stamps: list[tuple[Any, Any]] = []
        missing = 0
        wanted: set[tuple[str, int]] = set()
        for raw in items:
            if (
                isinstance(raw, dict)
                and isinstance(raw.get("prompt"), str)
                and isinstance(raw.get("prompt_version"), int)
            ):
                key = (raw["prompt"], raw["prompt_version"])
                if key not in ctx.refs["versions"]:
                    wanted.add(key)
        existing: dict[tuple[str, int], PromptVersion] = {}
        if wanted:
            slugs = {slug for slug, _ in wanted}
            for version in PromptVersion.objects.filter(
                prompt__workspace=ctx.workspace, prompt__slug__in=slugs
            ).select_related("prompt"):
                existing[(version.prompt.slug, version.number)] = version
        for i, raw in enumerate(items):
            where = f"{path}[{i}]"
            item = as_object(raw, where)
            values: dict[str, Any] = {}
            for name in RUN_TEXT_FIELDS:
                values[name] = field_of(item, name, where, str, default="")
            for name, choices in (
                ("provider", Provider.values),
                ("status", RunStatus.values),
                ("source", RunSource.values),
            ):
                if values[name] not in choices:
                    raise ImportRefused(
                        BAD_CHOICE.format(path=f"{where}.{name}", value=values[name], choices=", ".join(choices))
                    )
            for name in RUN_COUNT_FIELDS:
                number = field_of(item, name, where, int, default=0)
                if number < 0:
                    raise ImportRefused(BAD_NUMBER.format(path=f"{where}.{name}"))
                values[name] = number
            for name in RUN_OPTIONAL_INT_FIELDS:
                number = field_of(item, name, where, int, default=None)
                if number is not None and number < 0:
                    raise ImportRefused(BAD_NUMBER.format(path=f"{where}.{name}"))
                values[name] = number
            retry_after = field_of(item, "retry_after", where, (int, float), default=None)
            try:
                cost = Decimal(str(field_of(item, "cost", where, (str, int, float), default="0")))
                if not cost.is_finite() or cost < 0:
                    raise InvalidOperation
            except InvalidOperation:
                raise ImportRefused(BAD_NUMBER.format(path=f"{where}.cost")) from None
            version = None
            slug, number = item.get("prompt"), item.get("prompt_version")
            if isinstance(slug, str) and isinstance(number, int):
                version = ctx.refs["versions"].get((slug, number)) or existing.get((slug, number))
                if version is None:
                    missing += 1
            run = Run(
                workspace=ctx.workspace,
                user=ctx.user,
                prompt=version.prompt if version is not None else None,
                prompt_version=version,
                params=field_of(item, "params", where, dict, default={}),
                input=ctx.remap(field_of(item, "input", where, dict, default={}), f"{where}.input"),
                variables=ctx.remap(field_of(item, "variables", where, dict, default={}), f"{where}.variables"),
                warnings=field_of(item, "warnings", where, list, default=[]),
                usage_estimated=field_of(item, "usage_estimated", where, bool, default=False),
                cost=cost,
                retry_after=retry_after,
                **values,
            )
            runs.append(run)
            stamps.append(
                (
                    timestamp(item.get("created_at"), f"{where}.created_at"),
                    timestamp(item.get("finished_at"), f"{where}.finished_at"),
                )
            )
        created = Run.objects.bulk_create(runs, batch_size=500)
        for item, run in zip(items, created, strict=True):
            if isinstance(item.get("id"), int):
                ctx.refs["runs"][item["id"]] = run
        # created_at is auto_now_add (bulk_create sets it to now); put the recorded times back.
        for run, (created_at, finished_at) in zip(created, stamps, strict=True):
            run.finished_at = finished_at
            if created_at is not None:
                run.created_at = created_at
            ctx.record(self.name, run, self.describe(item_for(run)))
        if created and created[0].pk is not None:
            Run.objects.bulk_update(created, ["created_at", "finished_at"], batch_size=500)
        if missing:
            ctx.notes.append(RUN_PROMPT_MISSING.format(count=missing))


def item_for(run: Any) -> dict[str, Any]:
    return {"provider": run.provider, "model": run.model, "status": run.status}


# --- A/B tests -------------------------------------------------------------------------------------

ABTEST_WAS_ACTIVE = "A/B test “{name}” was {status} when exported; it was imported as cancelled."
UNKNOWN_VARIANT = "{path}: refers to variant {name!r}, which is not in this test's variants."
TRIAL_FIELDS_INT = ("row_index", "repetition", "input_tokens", "output_tokens", "attempts")


def _decimal(value: Any, path: str, *, allow_none: bool = False) -> Decimal | None:
    if value is None and allow_none:
        return None
    try:
        number = Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        raise ImportRefused(BAD_NUMBER.format(path=path)) from None
    if not number.is_finite() or number < 0:
        raise ImportRefused(BAD_NUMBER.format(path=path))
    return number


def _count(item: dict[str, Any], key: str, path: str, default: Any) -> Any:
    """A non-negative whole number (or the default)."""
    value = field_of(item, key, path, int, default=default)
    if value is not None and value < 0:
        raise ImportRefused(BAD_NUMBER.format(path=f"{path}.{key}"))
    return value


class ABTestHandler(Handler):
    """A/B tests with their variants, frozen dataset snapshot and trials (results are derived from trials)."""

    name = "abtests"
    label = "A/B tests"
    order = 60  # after runs: trials point at their runs
    table_columns = (
        "variant",
        "row_index",
        "repetition",
        "status",
        "passed",
        "score",
        "output",
        "error",
        "input_tokens",
        "output_tokens",
        "cost",
        "latency_ms",
        "ttft_ms",
        "evaluation",
        "vars",
    )

    def queryset(self, workspace_id: int) -> QuerySet[Any]:
        from abtests.models import ABTest

        return ABTest.objects.filter(workspace_id=workspace_id).order_by("created_at", "id")

    def export(self, objects: Any, ctx: ExportContext) -> list[dict[str, Any]]:
        from abtests.models import Trial, Variant

        if isinstance(objects, QuerySet):
            objects = objects.select_related("dataset", "snapshot", "control").prefetch_related(
                Prefetch(
                    "variants",
                    queryset=Variant.objects.select_related("prompt", "prompt_version").order_by("order", "id"),
                ),
                Prefetch(
                    "trials",
                    queryset=Trial.objects.select_related("variant").order_by(
                        "row_index", "repetition", "variant__order", "variant_id"
                    ),
                ),
            )
        out = []
        for test in objects:
            snapshot = test.snapshot
            item = {
                "id": test.pk,
                "name": test.name,
                "description": test.description,
                "status": test.status,
                "reason": test.reason,
                "repetitions": test.repetitions,
                "evaluators": test.evaluators,
                "pass_threshold": test.pass_threshold,
                "concurrency": test.concurrency,
                "cost_cap": str(test.cost_cap) if test.cost_cap is not None else None,
                "dataset": test.dataset.name if test.dataset_id else None,
                "snapshot": None
                if snapshot is None
                else {"name": snapshot.name, "columns": snapshot.columns, "rows": snapshot.rows},
                "control": test.control.name if test.control_id else None,
                "total_cells": test.total_cells,
                "finished_cells": test.finished_cells,
                "failed_cells": test.failed_cells,
                "cost_spent": str(test.cost_spent),
                "created_at": iso(test.created_at),
                "started_at": iso(test.started_at),
                "finished_at": iso(test.finished_at),
                "variants": [
                    {
                        "name": v.name,
                        "prompt": v.prompt.slug if v.prompt_id else None,
                        "label": v.label,
                        "prompt_version": v.prompt_version.number if v.prompt_version_id else None,
                        "provider": v.provider,
                        "model": v.model,
                        "params": v.params,
                        "order": v.order,
                    }
                    for v in test.variants.all()
                ],
                "trials": [
                    {
                        "variant": t.variant.name,
                        "row_index": t.row_index,
                        "repetition": t.repetition,
                        "status": t.status,
                        "output": t.output,
                        "error": t.error,
                        "input_tokens": t.input_tokens,
                        "output_tokens": t.output_tokens,
                        "cost": str(t.cost),
                        "latency_ms": t.latency_ms,
                        "ttft_ms": t.ttft_ms,
                        "run_id": t.run_id,
                        "evaluation": t.evaluation,
                        "score": t.score,
                        "passed": t.passed,
                        "attempts": t.attempts,
                        "started_at": iso(t.started_at),
                        "finished_at": iso(t.finished_at),
                    }
                    for t in test.trials.all()
                ],
            }
            ctx.collect(item)
            out.append(item)
        return out

    def describe(self, item: dict[str, Any]) -> str:
        trials = len(item.get("trials") or [])
        return f"{item.get('name')} ({len(item.get('variants') or [])} variants, {trials} trials)"

    def import_items(self, items: list[Any], ctx: ImportContext, path: str) -> None:
        from abtests.evaluators import EvaluatorConfigError, validate_evaluators
        from abtests.models import ACTIVE_STATUSES, ABTest, DatasetSnapshot, TestStatus, Trial, TrialStatus, Variant
        from abtests.services import content_hash
        from prompts.models import PromptVersion

        for i, raw in enumerate(items):
            where = f"{path}[{i}]"
            item = as_object(raw, where)
            name = field_of(item, "name", where, str)
            status = field_of(item, "status", where, str, default=TestStatus.DRAFT)
            if status not in TestStatus.values:
                raise ImportRefused(
                    BAD_CHOICE.format(path=f"{where}.status", value=status, choices=", ".join(TestStatus.values))
                )
            if status in ACTIVE_STATUSES:
                ctx.notes.append(ABTEST_WAS_ACTIVE.format(name=name, status=status))
                status = TestStatus.CANCELLED
            try:
                evaluators = validate_evaluators(
                    field_of(item, "evaluators", where, list, default=[]), path=f"{where}.evaluators"
                )
            except EvaluatorConfigError as exc:
                raise ImportRefused("; ".join(exc.errors)) from None
            dataset_name = item.get("dataset")
            dataset = ctx.refs["datasets"].get(dataset_name) if isinstance(dataset_name, str) else None
            snapshot = None
            raw_snapshot = item.get("snapshot")
            if raw_snapshot is not None:
                s_where = f"{where}.snapshot"
                snap = as_object(raw_snapshot, s_where)
                columns = field_of(snap, "columns", s_where, list)
                rows = ctx.remap(field_of(snap, "rows", s_where, list), f"{s_where}.rows")
                for k, row in enumerate(rows):
                    r_where = f"{s_where}.rows[{k}]"
                    _count(as_object(row, r_where), "index", r_where, ...)
                    field_of(row, "values", r_where, dict)
                snapshot = DatasetSnapshot.objects.create(
                    workspace=ctx.workspace,
                    dataset=dataset,
                    name=field_of(snap, "name", s_where, str, default=name)[:200],
                    columns=columns,
                    rows=rows,
                    row_count=len(rows),
                    content_hash=content_hash(columns, rows),
                    created_by=ctx.user,
                )
            test = ABTest.objects.create(
                workspace=ctx.workspace,
                name=name[:200],
                description=field_of(item, "description", where, str, default=""),
                dataset=dataset,
                snapshot=snapshot,
                repetitions=_count(item, "repetitions", where, 1),
                evaluators=evaluators,
                pass_threshold=field_of(item, "pass_threshold", where, (int, float), default=1.0),
                concurrency=_count(item, "concurrency", where, 8),
                cost_cap=_decimal(item.get("cost_cap"), f"{where}.cost_cap", allow_none=True),
                status=status,
                reason=field_of(item, "reason", where, str, default=""),
                total_cells=_count(item, "total_cells", where, 0),
                finished_cells=_count(item, "finished_cells", where, 0),
                failed_cells=_count(item, "failed_cells", where, 0),
                cost_spent=_decimal(item.get("cost_spent"), f"{where}.cost_spent"),
                started_at=timestamp(item.get("started_at"), f"{where}.started_at"),
                finished_at=timestamp(item.get("finished_at"), f"{where}.finished_at"),
                created_by=ctx.user,
            )
            variants: dict[str, Variant] = {}
            for j, raw_variant in enumerate(as_list(item.get("variants"), f"{where}.variants")):
                v_where = f"{where}.variants[{j}]"
                v = as_object(raw_variant, v_where)
                v_name = field_of(v, "name", v_where, str)
                slug, number = v.get("prompt"), v.get("prompt_version")
                version = None
                prompt = ctx.refs["prompts"].get(slug) if isinstance(slug, str) else None
                if isinstance(slug, str) and isinstance(number, int):
                    version = ctx.refs["versions"].get((slug, number)) or (
                        PromptVersion.objects.filter(
                            prompt__workspace=ctx.workspace, prompt__slug=slug, number=number
                        ).first()
                    )
                    prompt = prompt or (version.prompt if version is not None else None)
                variants[v_name] = Variant.objects.create(
                    test=test,
                    name=v_name[:100],
                    prompt=prompt,
                    label=field_of(v, "label", v_where, str, default=""),
                    prompt_version=version,
                    provider=field_of(v, "provider", v_where, str),
                    model=field_of(v, "model", v_where, str),
                    params=field_of(v, "params", v_where, dict, default={}),
                    order=_count(v, "order", v_where, j),
                )
            control = item.get("control")
            if isinstance(control, str):
                if control not in variants:
                    raise ImportRefused(UNKNOWN_VARIANT.format(path=f"{where}.control", name=control))
                ABTest.objects.filter(pk=test.pk).update(control=variants[control])
            trials = []
            for j, raw_trial in enumerate(as_list(item.get("trials"), f"{where}.trials", required=False)):
                t_where = f"{where}.trials[{j}]"
                t = as_object(raw_trial, t_where)
                variant_name = field_of(t, "variant", t_where, str)
                if variant_name not in variants:
                    raise ImportRefused(UNKNOWN_VARIANT.format(path=f"{t_where}.variant", name=variant_name))
                trial_status = field_of(t, "status", t_where, str, default=TrialStatus.PENDING)
                if trial_status not in TrialStatus.values:
                    raise ImportRefused(
                        BAD_CHOICE.format(
                            path=f"{t_where}.status", value=trial_status, choices=", ".join(TrialStatus.values)
                        )
                    )
                ints = {}
                for key in TRIAL_FIELDS_INT:
                    ints[key] = field_of(t, key, t_where, int, default=0)
                    if ints[key] < 0:
                        raise ImportRefused(BAD_NUMBER.format(path=f"{t_where}.{key}"))
                run_id = t.get("run_id")
                trials.append(
                    Trial(
                        test=test,
                        variant=variants[variant_name],
                        status=trial_status,
                        output=field_of(t, "output", t_where, str, default=""),
                        error=field_of(t, "error", t_where, str, default=""),
                        cost=_decimal(t.get("cost"), f"{t_where}.cost"),
                        latency_ms=_count(t, "latency_ms", t_where, None),
                        ttft_ms=_count(t, "ttft_ms", t_where, None),
                        run=ctx.refs["runs"].get(run_id) if isinstance(run_id, int) else None,
                        evaluation=field_of(t, "evaluation", t_where, dict, default={}),
                        score=field_of(t, "score", t_where, (int, float), default=None),
                        passed=field_of(t, "passed", t_where, bool, default=None),
                        started_at=timestamp(t.get("started_at"), f"{t_where}.started_at"),
                        finished_at=timestamp(t.get("finished_at"), f"{t_where}.finished_at"),
                        **ints,
                    )
                )
            try:
                Trial.objects.bulk_create(trials, batch_size=500)
            except IntegrityError:
                raise ImportRefused(f"{where}.trials: two trials have the same variant, row and repetition.") from None
            when = timestamp(item.get("created_at"), f"{where}.created_at")
            if when is not None:
                ABTest.objects.filter(pk=test.pk).update(created_at=when)
            ctx.record(self.name, test, self.describe(item))


def _register_abtests() -> None:
    from abtests import models as abtest_models

    if getattr(abtest_models, "ABTest", None) is not None and getattr(abtest_models, "Trial", None) is not None:
        register(ABTestHandler)


_register_abtests()
