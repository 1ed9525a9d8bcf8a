"""Writes for datasets: create, change, delete, rows, snapshots and imports (HackSoft-style services)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

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
from abtests.models import Dataset, DatasetRow, DatasetSnapshot
from accounts.models import User, Workspace

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
        raise DatasetError(NAME_TAKEN.format(name=name), field="name")


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
        raise DatasetError(NAME_TAKEN.format(name=name), field="name") from None
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
                raise DatasetError(COLUMN_CHANGE_BREAKS_ROWS.format(error=exc), field="columns") from None
            for row, values in zip(rows, cleaned, strict=True):
                row.values = values
            DatasetRow.objects.bulk_update(rows, ["values"], batch_size=500)
            dataset.columns = new_columns
            fields.append("columns")
    try:
        with transaction.atomic():
            dataset.save(update_fields=fields)
    except IntegrityError:
        raise DatasetError(NAME_TAKEN.format(name=dataset.name), field="name") from None
    return dataset


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset and its rows. Snapshots that tests use stay (they keep their own copy)."""
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

    See ``abtests.importers.import_dataset``; returns its ``ImportResult``.
    """
    from abtests.importers import import_dataset

    return import_dataset(
        workspace=workspace,
        user=user,
        name=name,
        upload=upload,
        description=description,
        columns=columns,
        dry_run=dry_run,
    )
