"""Writes for datasets: create, change, delete, rows, snapshots and imports (HackSoft-style services)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from abtests.datasets import (
    TOO_MANY_ROWS,
    DatasetError,
    asset_kinds,
    clean_columns,
    clean_row,
    convert,
    limit,
    referenced_assets,
)
from abtests.models import (
    MAX_VARIANTS,
    MIN_VARIANTS,
    ABTest,
    Dataset,
    DatasetRow,
    DatasetSnapshot,
    Review,
    ReviewChoice,
    TestStatus,
    Trial,
    TrialStatus,
    Variant,
)
from accounts.models import User, Workspace
from audit.context import request_user
from audit.services import record
from studio.exceptions import CONFLICT, NOT_FOUND

NAME_REQUIRED = "A dataset needs a name."
NAME_TOO_LONG = "A dataset name is at most 200 characters."
NAME_TAKEN = "A dataset named {name!r} already exists in this workspace."
DESCRIPTION_TOO_LONG = "A description is at most 2000 characters."
COLUMN_CHANGE_BREAKS_ROWS = "Changing the columns would break existing rows: {error}"


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(NAME_REQUIRED, field="name")
    name = " ".join(name.split())
    if len(name) > 200:
        raise DatasetError(NAME_TOO_LONG, field="name")
    return name


def _clean_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise DatasetError("A description must be text.", field="description")
    description = description.strip()
    if len(description) > 2000:
        raise DatasetError(DESCRIPTION_TOO_LONG, field="description")
    return description


def check_name_free(*, workspace_id: int, name: str, exclude_pk: int | None = None) -> None:
    taken = Dataset.objects.filter(workspace_id=workspace_id, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise DatasetError(NAME_TAKEN.format(name=name), field="name", http_status=CONFLICT)


@transaction.atomic
def dataset_create(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    description: str = "",
    columns: Any = None,
    rows: list[dict[str, Any]] | None = None,
) -> Dataset:
    """A new dataset, optionally with rows (each checked like ``dataset_row_add``)."""
    name = _clean_name(name)
    check_name_free(workspace_id=workspace.pk, name=name)
    cleaned_columns = clean_columns([] if columns is None else columns)
    rows = rows or []
    if len(rows) > limit("DATASET_MAX_ROWS"):
        raise DatasetError(TOO_MANY_ROWS.format(limit=limit("DATASET_MAX_ROWS")))
    kinds = asset_kinds(workspace.pk, referenced_assets(rows, cleaned_columns))
    cleaned_rows = [clean_row(values, cleaned_columns, row=i + 1, kinds=kinds) for i, values in enumerate(rows)]
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                workspace=workspace,
                name=name,
                description=_clean_description(description),
                columns=cleaned_columns,
                created_by=user,
            )
    except IntegrityError:
        raise DatasetError(NAME_TAKEN.format(name=name), field="name", http_status=CONFLICT) from None
    DatasetRow.objects.bulk_create(
        [DatasetRow(dataset=dataset, index=i, values=values) for i, values in enumerate(cleaned_rows)],
        batch_size=500,
    )
    return dataset


@transaction.atomic
def dataset_update(
    *, dataset: Dataset, name: str | None = None, description: str | None = None, columns: Any = None
) -> Dataset:
    """Rename, describe, or change the columns.

    New columns start empty (null); removed columns drop their values; a changed type must fit every
    existing value, otherwise nothing changes and the message names the row and column.
    """
    fields = ["updated_at"]
    if name is not None:
        dataset.name = _clean_name(name)
        check_name_free(workspace_id=dataset.workspace_id, name=dataset.name, exclude_pk=dataset.pk)
        fields.append("name")
    if description is not None:
        dataset.description = _clean_description(description)
        fields.append("description")
    if columns is not None:
        new_columns = clean_columns(columns)
        if new_columns != dataset.columns:
            rows = list(DatasetRow.objects.select_for_update().filter(dataset=dataset).order_by("index"))
            old_types = dataset.column_types()
            try:
                kept = [
                    {
                        c["name"]: (
                            convert(c["type"], row.values.get(c["name"]), row=i + 1, column=c["name"])
                            if old_types.get(c["name"], c["type"]) != c["type"]
                            else row.values.get(c["name"])
                        )
                        for c in new_columns
                    }
                    for i, row in enumerate(rows)
                ]
                kinds = asset_kinds(dataset.workspace_id, referenced_assets(kept, new_columns))
                cleaned = [clean_row(values, new_columns, row=i + 1, kinds=kinds) for i, values in enumerate(kept)]
            except DatasetError as exc:
                raise DatasetError(
                    COLUMN_CHANGE_BREAKS_ROWS.format(error=exc), field="columns", http_status=CONFLICT
                ) from None
            for row, values in zip(rows, cleaned, strict=True):
                row.values = values
            DatasetRow.objects.bulk_update(rows, ["values"], batch_size=500)
            dataset.columns = new_columns
            fields.append("columns")
    try:
        with transaction.atomic():
            dataset.save(update_fields=fields)
    except IntegrityError:
        raise DatasetError(NAME_TAKEN.format(name=dataset.name), field="name", http_status=CONFLICT) from None
    return dataset


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset and its rows. Snapshots that tests use stay (they keep their own copy)."""
    record(action="dataset.deleted", actor=request_user(), workspace=dataset.workspace_id, target=dataset)
    dataset.delete()


def _touch(dataset: Dataset) -> None:
    dataset.save(update_fields=["updated_at"])


@transaction.atomic
def dataset_row_add(*, dataset: Dataset, values: Any) -> DatasetRow:
    """Append a row; values are checked against the columns (assets must be in the dataset's workspace)."""
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    count = DatasetRow.objects.filter(dataset=locked).count()
    if count >= limit("DATASET_MAX_ROWS"):
        raise DatasetError(TOO_MANY_ROWS.format(limit=limit("DATASET_MAX_ROWS")))
    columns = locked.columns
    kinds = asset_kinds(locked.workspace_id, referenced_assets([values] if isinstance(values, dict) else [], columns))
    cleaned = clean_row(values, columns, row=None, kinds=kinds)
    last = DatasetRow.objects.filter(dataset=locked).aggregate(last=Max("index"))["last"]
    row = DatasetRow.objects.create(dataset=locked, index=0 if last is None else last + 1, values=cleaned)
    _touch(locked)
    return row


@transaction.atomic
def dataset_row_update(*, row: DatasetRow, values: Any) -> DatasetRow:
    """Change some cells of a row (the keys given); the rest stay."""
    dataset = row.dataset
    columns = dataset.columns
    kinds = asset_kinds(dataset.workspace_id, referenced_assets([values] if isinstance(values, dict) else [], columns))
    cleaned = clean_row(values, columns, row=None, kinds=kinds, partial=True)
    row.values = {**row.values, **cleaned}
    row.save(update_fields=["values"])
    _touch(dataset)
    return row


@transaction.atomic
def dataset_row_delete(*, row: DatasetRow) -> None:
    dataset = row.dataset
    row.delete()
    _touch(dataset)


def content_hash(columns: list[dict[str, str]], rows: list[dict[str, Any]]) -> str:
    canonical = json.dumps(
        {"columns": columns, "rows": rows}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def dataset_snapshot_create(*, dataset: Dataset, user: User | None = None) -> DatasetSnapshot:
    """Freeze the dataset's current rows for an A/B test.

    Returns the latest snapshot of this dataset when its content (columns and rows) is unchanged,
    so tests over an unedited dataset share one snapshot.
    """
    rows = [
        {"index": index, "values": values}
        for index, values in DatasetRow.objects.filter(dataset=dataset).order_by("index").values_list("index", "values")
    ]
    digest = content_hash(dataset.columns, rows)
    existing = DatasetSnapshot.objects.filter(dataset=dataset, content_hash=digest).order_by("-id").first()
    if existing is not None:
        return existing
    return DatasetSnapshot.objects.create(
        workspace_id=dataset.workspace_id,
        dataset=dataset,
        name=dataset.name,
        columns=dataset.columns,
        rows=rows,
        row_count=len(rows),
        content_hash=digest,
        created_by=user,
    )


def dataset_import(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    upload: Any,
    description: str = "",
    columns: Any = None,
    dry_run: bool = False,
) -> Any:
    """Import a CSV, JSONL, or ZIP (a CSV or JSONL plus media files) as a new dataset.

    See ``abtests.importers.import_dataset``; returns its ``ImportResult``. An applied import appends
    one ``import.dataset`` audit event in the same transaction (a dry run or a refusal: none).
    """
    from abtests.importers import import_dataset
    from audit.context import request_channel

    with contextlib.nullcontext() if dry_run else transaction.atomic():
        result = import_dataset(
            workspace=workspace,
            user=user,
            name=name,
            upload=upload,
            description=description,
            columns=columns,
            dry_run=dry_run,
        )
        if result.dataset is not None:
            record(
                action="import.dataset",
                actor=user,
                workspace=workspace,
                target=result.dataset,
                details={
                    "format": result.format,
                    "file": str(getattr(upload, "name", "") or "")[:200],
                    "rows": result.row_count,
                    "columns": len(result.columns),
                    "files": len(result.files),
                    "via": request_channel(),
                },
            )
    return result


# =====================================================================================================
# A/B tests: create, change, delete, estimate, start, cancel, reviews
# =====================================================================================================
# Messages (module constants so that tests and pages can match them).
TEST_NAME_REQUIRED = "A test needs a name."
TEST_NOT_DRAFT = "Only a draft test can be changed; this one is {status}."
TEST_NOT_STARTABLE = "This test is {status}; only a draft test can be started."
TEST_NOT_CANCELLABLE = "This test is {status}; only a queued or running test can be cancelled."
TEST_RUNNING_DELETE = "A running test can't be deleted; cancel it first."
DATASET_REQUIRED = "Choose a dataset."
DATASET_OTHER_WORKSPACE = "Dataset {id} is not in this workspace."
DATASET_EMPTY = "The dataset {name!r} has no rows; add rows before starting the test."
DATASET_GONE = "The test's dataset was deleted; choose another dataset."
VARIANT_COUNT = "A test has 2 to 10 variants; this one has {count}."
VARIANT_NAME_REQUIRED = "variants[{index}]: a variant needs a name."
VARIANT_NAME_DUPLICATE = "variants[{index}]: the name {name!r} is used twice."
VARIANT_PROMPT_REQUIRED = "variants[{index}]: choose a prompt version, or a prompt and a label."
VARIANT_VERSION_UNKNOWN = "variants[{index}]: prompt version {id} is not in this workspace."
VARIANT_PROMPT_UNKNOWN = "variants[{index}]: prompt {id} is not in this workspace."
VARIANT_LABEL_UNKNOWN = "variants[{index}] ({name}): the prompt has no label {label!r}."
VARIANT_PROVIDER_UNKNOWN = "variants[{index}]: unknown provider {provider!r}."
VARIANT_MODEL_REQUIRED = "variants[{index}]: choose a model."
VARIANT_CREDENTIAL_UNKNOWN = "variants[{index}]: credential {id} is not a {provider} credential of this workspace."
VARIANT_ROW_REFUSED = "Variant {name}, dataset row {row}: {error}"
VARIANT_REFUSED = "Variant {name}: {error}"
CONTROL_UNKNOWN = "The control must be one of the variants (0 to {last})."
REPETITIONS_RANGE = "Repetitions must be a whole number from 1 to {limit}."
CONCURRENCY_RANGE = "Concurrency must be a whole number from 1 to {limit}."
COST_CAP_INVALID = "The cost cap must be a positive amount in USD, or empty for none."
JUDGE_REFUSED = "evaluators[{index}] (LLM judge): {error}"
TOO_MANY_CELLS = (
    "This test would make {cells:,} calls; the limit is {limit:,}. Use fewer rows, variants or repetitions."
)
REVIEW_NOT_FINISHED = "Reviews are for finished trials; trial {id} has no output yet."
REVIEW_WRONG_TEST = "Trial {id} is not part of this test."
REVIEW_SAME_ROW = "A pairwise review compares two variants' outputs for the same row."
REVIEW_CHOICE_OR_RATING = "Give either a choice (a, b or tie) with two trials, or a rating from 1 to 5 for one trial."

MAX_REPETITIONS = 100
MAX_CONCURRENCY = 200


class TestError(ValidationError):
    """A test can't be created, changed or started; ``text`` is one clear sentence (the API's detail)."""

    def __init__(self, message: str, *, field: str = "non_field_errors", http_status: int = 400) -> None:
        self.text = message
        self.http_status = http_status  # the API's answer: 409 for a state conflict, 404 for an unknown id
        super().__init__({field: [message]})

    def __str__(self) -> str:
        return self.text


def _max_cells() -> int:
    from django.conf import settings

    return int(getattr(settings, "ABTEST_MAX_CELLS", 100_000))


def _clean_int(value: Any, *, low: int, high: int, message: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        try:
            if isinstance(value, str) and value.strip().isdigit():
                return _clean_int(int(value.strip()), low=low, high=high, message=message, field=field)
        except TestError:
            pass
        raise TestError(message, field=field)
    return value


def _clean_cost_cap(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        cap = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TestError(COST_CAP_INVALID, field="cost_cap") from None
    if not cap.is_finite() or cap <= 0 or cap >= Decimal("1000000"):
        raise TestError(COST_CAP_INVALID, field="cost_cap")
    return cap


def _clean_evaluators(evaluators: Any, dataset: Dataset | None) -> list[dict[str, Any]]:
    from abtests.evaluators import EvaluatorConfigError, validate_evaluators

    try:
        return validate_evaluators(
            [] if evaluators is None else evaluators,
            variables=dataset.column_names if dataset is not None else None,
        )
    except EvaluatorConfigError as exc:
        raise TestError("; ".join(exc.errors), field="evaluators") from None


def _clean_threshold(value: Any) -> float:
    from abtests.evaluators import EvaluatorConfigError, validate_threshold

    try:
        return validate_threshold(1.0 if value is None else value)
    except EvaluatorConfigError as exc:
        raise TestError(str(exc), field="pass_threshold") from None


def _clean_variants(workspace_id: int, variants: Any) -> list[dict[str, Any]]:
    """Check each variant's references (prompt, version, credential, provider, params) in the workspace."""
    from prompts.models import Prompt, PromptVersion
    from providers.models import ProviderCredential
    from providers.services import RunRefused, params_validate
    from providers.types import PROVIDERS

    if not isinstance(variants, list) or not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        count = len(variants) if isinstance(variants, list) else 0
        raise TestError(VARIANT_COUNT.format(count=count), field="variants")
    cleaned: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, raw in enumerate(variants):
        if not isinstance(raw, dict):
            raise TestError(f"variants[{index}] must be an object.", field="variants")
        name = " ".join(str(raw.get("name") or "").split())[:100]
        if not name:
            raise TestError(VARIANT_NAME_REQUIRED.format(index=index), field="variants")
        if name in names:
            raise TestError(VARIANT_NAME_DUPLICATE.format(index=index, name=name), field="variants")
        names.add(name)
        version = prompt = None
        label = str(raw.get("label") or "").strip()
        version_id = raw.get("prompt_version")
        if version_id not in (None, ""):
            version = (
                PromptVersion.objects.select_related("prompt")
                .filter(prompt__workspace_id=workspace_id, pk=_int_or_none(version_id))
                .first()
            )
            if version is None:
                raise TestError(
                    VARIANT_VERSION_UNKNOWN.format(index=index, id=version_id), field="variants", http_status=NOT_FOUND
                )
            prompt = version.prompt
            label = ""
        elif raw.get("prompt") not in (None, "") and label:
            prompt = Prompt.objects.filter(workspace_id=workspace_id, pk=_int_or_none(raw.get("prompt"))).first()
            if prompt is None:
                raise TestError(
                    VARIANT_PROMPT_UNKNOWN.format(index=index, id=raw.get("prompt")),
                    field="variants",
                    http_status=NOT_FOUND,
                )
            if not prompt.labels.filter(name=label).exists():
                raise TestError(
                    VARIANT_LABEL_UNKNOWN.format(index=index, name=name, label=label),
                    field="variants",
                    http_status=NOT_FOUND,
                )
        else:
            raise TestError(VARIANT_PROMPT_REQUIRED.format(index=index), field="variants")
        provider = str(raw.get("provider") or "")
        if provider not in PROVIDERS:
            raise TestError(VARIANT_PROVIDER_UNKNOWN.format(index=index, provider=provider), field="variants")
        model = str(raw.get("model") or "").strip()[:200]
        if not model:
            raise TestError(VARIANT_MODEL_REQUIRED.format(index=index), field="variants")
        try:
            params = params_validate(raw.get("params") or {})
        except RunRefused as exc:
            raise TestError(f"variants[{index}]: {exc.text}", field="variants") from None
        credential = None
        if raw.get("credential") not in (None, ""):
            credential = ProviderCredential.objects.filter(
                workspace_id=workspace_id, provider=provider, pk=_int_or_none(raw.get("credential"))
            ).first()
            if credential is None:
                raise TestError(
                    VARIANT_CREDENTIAL_UNKNOWN.format(index=index, id=raw.get("credential"), provider=provider),
                    field="variants",
                )
        cleaned.append(
            {
                "name": name,
                "prompt": prompt,
                "label": label,
                "prompt_version": version,
                "provider": provider,
                "model": model,
                "params": params,
                "credential": credential,
                "order": index,
            }
        )
    return cleaned


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _clean_dataset(workspace_id: int, dataset: Any) -> Dataset:
    if dataset in (None, ""):
        raise TestError(DATASET_REQUIRED, field="dataset")
    if isinstance(dataset, Dataset):
        found: Dataset | None = dataset if dataset.workspace_id == workspace_id else None
    else:
        found = Dataset.objects.filter(workspace_id=workspace_id, pk=_int_or_none(dataset)).first()
    if found is None:
        raise TestError(
            DATASET_OTHER_WORKSPACE.format(id=getattr(dataset, "pk", dataset)), field="dataset", http_status=NOT_FOUND
        )
    return found


def _save_variants(test: ABTest, variants: list[dict[str, Any]], control: Any) -> None:
    Variant.objects.filter(test=test).delete()
    created = [Variant.objects.create(test=test, **v) for v in variants]
    index = 0 if control in (None, "") else _int_or_none(control)
    if index is None or not 0 <= index < len(created):
        raise TestError(CONTROL_UNKNOWN.format(last=len(created) - 1), field="control")
    test.control = created[index]
    test.save(update_fields=["control", "updated_at"])


@transaction.atomic
def abtest_create(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    dataset: Any,
    variants: list[dict[str, Any]],
    description: str = "",
    repetitions: Any = 1,
    evaluators: Any = None,
    pass_threshold: Any = 1.0,
    concurrency: Any = 8,
    cost_cap: Any = None,
    control: Any = 0,
) -> ABTest:
    """A draft test. ``variants``: ``[{name, prompt_version | (prompt, label), provider, model, params,
    credential}, ...]`` (2 to 10); ``control`` is the index of the baseline variant (default the first)."""
    clean_name = " ".join(str(name or "").split())[:200]
    if not clean_name:
        raise TestError(TEST_NAME_REQUIRED, field="name")
    found = _clean_dataset(workspace.pk, dataset)
    test = ABTest.objects.create(
        workspace=workspace,
        name=clean_name,
        description=_clean_description(description),
        dataset=found,
        repetitions=_clean_int(
            repetitions,
            low=1,
            high=MAX_REPETITIONS,
            message=REPETITIONS_RANGE.format(limit=MAX_REPETITIONS),
            field="repetitions",
        ),
        evaluators=_clean_evaluators(evaluators, found),
        pass_threshold=_clean_threshold(pass_threshold),
        concurrency=_clean_int(
            concurrency,
            low=1,
            high=MAX_CONCURRENCY,
            message=CONCURRENCY_RANGE.format(limit=MAX_CONCURRENCY),
            field="concurrency",
        ),
        cost_cap=_clean_cost_cap(cost_cap),
        created_by=user,
    )
    _save_variants(test, _clean_variants(workspace.pk, variants), control)
    return test


_UNSET: Any = object()


@transaction.atomic
def abtest_update(
    *,
    test: ABTest,
    name: Any = _UNSET,
    description: Any = _UNSET,
    dataset: Any = _UNSET,
    variants: Any = _UNSET,
    repetitions: Any = _UNSET,
    evaluators: Any = _UNSET,
    pass_threshold: Any = _UNSET,
    concurrency: Any = _UNSET,
    cost_cap: Any = _UNSET,
    control: Any = _UNSET,
) -> ABTest:
    """Change a draft test (only the fields given). A started test is read-only."""
    test = ABTest.objects.select_for_update().get(pk=test.pk)
    if not test.is_draft:
        raise TestError(
            TEST_NOT_DRAFT.format(status=test.get_status_display().lower()), field="status", http_status=CONFLICT
        )
    if name is not _UNSET:
        test.name = " ".join(str(name or "").split())[:200]
        if not test.name:
            raise TestError(TEST_NAME_REQUIRED, field="name")
    if description is not _UNSET:
        test.description = _clean_description(description)
    if dataset is not _UNSET:
        test.dataset = _clean_dataset(test.workspace_id, dataset)
    if repetitions is not _UNSET:
        test.repetitions = _clean_int(
            repetitions,
            low=1,
            high=MAX_REPETITIONS,
            message=REPETITIONS_RANGE.format(limit=MAX_REPETITIONS),
            field="repetitions",
        )
    if evaluators is not _UNSET or dataset is not _UNSET:
        test.evaluators = _clean_evaluators(test.evaluators if evaluators is _UNSET else evaluators, test.dataset)
    if pass_threshold is not _UNSET:
        test.pass_threshold = _clean_threshold(pass_threshold)
    if concurrency is not _UNSET:
        test.concurrency = _clean_int(
            concurrency,
            low=1,
            high=MAX_CONCURRENCY,
            message=CONCURRENCY_RANGE.format(limit=MAX_CONCURRENCY),
            field="concurrency",
        )
    if cost_cap is not _UNSET:
        test.cost_cap = _clean_cost_cap(cost_cap)
    test.save()
    if variants is not _UNSET:
        _save_variants(test, _clean_variants(test.workspace_id, variants), 0 if control is _UNSET else control)
    elif control is not _UNSET:
        ordered = list(test.variants.order_by("order", "id"))
        index = _int_or_none(control)
        if index is None or not 0 <= index < len(ordered):
            raise TestError(CONTROL_UNKNOWN.format(last=len(ordered) - 1), field="control")
        test.control = ordered[index]
        test.save(update_fields=["control", "updated_at"])
    return test


@transaction.atomic
def abtest_delete(*, test: ABTest) -> None:
    """Delete a test with its trials and reviews (the provider Runs stay, for analytics)."""
    if test.is_active:
        raise TestError(TEST_RUNNING_DELETE, field="status", http_status=CONFLICT)
    record(action="abtest.deleted", actor=request_user(), workspace=test.workspace_id, target=test)
    test.delete()


def abtest_estimate(*, test: ABTest) -> dict[str, Any]:
    """The number of calls and the estimated cost, before start (no provider is called).

    Token counts are estimated from the rendered prompt's length (about 4 characters a token) and
    each variant's ``max_tokens`` (or the catalog's default output allowance); judge calls included.
    """
    from abtests.engine import plan_estimate

    return plan_estimate(test)


def abtest_start(*, test: ABTest, user: User | None = None, enqueue: bool = True) -> ABTest:
    """Check everything, freeze the dataset, create one Trial per cell and enqueue the chunks.

    Refuses (``TestError``, nothing changed) when the test is not a draft, has not 2 to 10 variants,
    the dataset is empty, a model or credential is missing, a row does not render for a variant, or
    a part of the prompt is something the variant's model can't take. ``enqueue=False`` leaves the
    cells for the caller (``engine.run_cells_sync``), e.g. the demo seeder.
    """
    from abtests import engine

    with transaction.atomic():
        test = ABTest.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=test.pk)
        if not test.is_draft:
            raise TestError(
                TEST_NOT_STARTABLE.format(status=test.get_status_display().lower()),
                field="status",
                http_status=CONFLICT,
            )
        if test.dataset is None:
            raise TestError(DATASET_GONE, field="dataset", http_status=CONFLICT)
        variants = list(test.variants.select_related("prompt_version", "prompt").order_by("order", "id"))
        if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
            raise TestError(VARIANT_COUNT.format(count=len(variants)), field="variants")
        snapshot = dataset_snapshot_create(dataset=test.dataset, user=user)
        if snapshot.row_count == 0:
            raise TestError(DATASET_EMPTY.format(name=test.dataset.name), field="dataset", http_status=CONFLICT)
        cells = len(variants) * snapshot.row_count * test.repetitions
        if cells > _max_cells():
            raise TestError(TOO_MANY_CELLS.format(cells=cells, limit=_max_cells()), field="variants")
        engine.resolve_variants(test, variants)  # labels -> versions (saved), refuses unknown labels
        engine.check_startable(test, variants, snapshot)  # render every row, prepare every target
        engine.trials_create(
            test,
            [
                (variant.pk, row, rep)
                for row in range(snapshot.row_count)
                for rep in range(test.repetitions)
                for variant in variants
            ],
        )
        test.snapshot = snapshot
        test.status = TestStatus.QUEUED
        test.reason = ""
        test.total_cells = cells
        test.finished_cells = test.failed_cells = 0
        test.cost_spent = test.cost_reserved = Decimal(0)
        test.started_at = timezone.now()
        test.finished_at = None
        test.last_progress_at = test.started_at
        test.save()
        test_id = test.pk
        if enqueue:
            transaction.on_commit(lambda: engine.enqueue_pending(test_id))
    return test


def abtest_cancel(*, test: ABTest) -> ABTest:
    """Stop a queued or running test: no new cell starts; cells in flight finish, the rest are skipped."""
    from abtests import engine

    updated = ABTest.objects.filter(pk=test.pk, status__in=(TestStatus.QUEUED, TestStatus.RUNNING)).update(
        status=TestStatus.CANCELLING, reason="Cancelled by a user.", updated_at=timezone.now()
    )
    if not updated:
        test.refresh_from_db()
        if test.status == TestStatus.CANCELLING:
            return test
        raise TestError(
            TEST_NOT_CANCELLABLE.format(status=test.get_status_display().lower()), field="status", http_status=CONFLICT
        )
    engine.finalize(test.pk)  # nothing in flight: cancelled at once; otherwise the last cell finishes it
    test.refresh_from_db()
    return test


@transaction.atomic
def review_create(
    *,
    test: ABTest,
    reviewer: User,
    trial_a: Any,
    trial_b: Any = None,
    choice: str = "",
    rating: Any = None,
    sides: dict[str, Any] | None = None,
) -> Review:
    """Record a blind pairwise choice (two trials of the same row) or a 1-5 rating (one trial).

    A rating fills the test's human-rating evaluator for that trial: its score and pass are recomputed.
    """
    from abtests import engine

    def load(value: Any) -> Trial:
        found = Trial.objects.filter(test=test, pk=_int_or_none(value)).first()
        if found is None:
            raise TestError(REVIEW_WRONG_TEST.format(id=value), field="trial", http_status=NOT_FOUND)
        if found.status != TrialStatus.OK:
            raise TestError(REVIEW_NOT_FINISHED.format(id=value), field="trial", http_status=CONFLICT)
        return found

    a = load(trial_a)
    pairwise = trial_b not in (None, "")
    if pairwise:
        b = load(trial_b)
        if choice not in ReviewChoice.values or rating not in (None, ""):
            raise TestError(REVIEW_CHOICE_OR_RATING, field="choice")
        if b.row_index != a.row_index or b.variant_id == a.variant_id:
            raise TestError(REVIEW_SAME_ROW, field="trial_b")
        review = Review.objects.create(
            test=test, trial_a=a, trial_b=b, reviewer=reviewer, choice=choice, sides=sides or {}
        )
        return review
    if choice or isinstance(rating, bool) or _int_or_none(rating) is None or not 1 <= int(rating) <= 5:
        raise TestError(REVIEW_CHOICE_OR_RATING, field="rating")
    review = Review.objects.create(test=test, trial_a=a, reviewer=reviewer, rating=int(rating), sides=sides or {})
    engine.trial_reevaluate(a)
    return review
