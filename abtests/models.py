"""Datasets for A/B tests: named tables of variable values, and frozen snapshots of them.

A dataset's ``columns`` are ``[{"name": "question", "type": "text"}, ...]`` (the types of prompt
variables: text, number, json, image, audio, document). Each DatasetRow holds ``values`` keyed by
column name; media cells are ``{"asset": "<uuid>"}`` or ``{"url": "https://..."}``, empty cells null.
An A/B test runs against a DatasetSnapshot, so later edits never change finished results.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

COLUMN_TYPES = ("text", "number", "json", "image", "audio", "document")
MEDIA_COLUMN_TYPES = ("image", "audio", "document")


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def with_row_count(self) -> DatasetQuerySet:
        """Annotate ``row_count`` in the same query (lists never count rows one dataset at a time)."""
        return self.annotate(row_count=models.Count("rows"))


class Dataset(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    columns = models.JSONField(default=list, blank=True, help_text='[{"name": ..., "type": ...}, ...]')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="dataset_unique_name_per_workspace")]
        indexes = [models.Index(fields=["workspace", "-updated_at"], name="dataset_list_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def column_types(self) -> dict[str, str]:
        return {c["name"]: c["type"] for c in self.columns}


class DatasetRow(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="rows")
    index = models.PositiveIntegerField(help_text="Position in the dataset, from 0.")
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dataset_id", "index"]
        constraints = [models.UniqueConstraint(fields=["dataset", "index"], name="datasetrow_unique_index")]

    def __str__(self) -> str:
        return f"{self.dataset} row {self.index}"


class DatasetSnapshot(models.Model):
    """The rows of a dataset frozen at one moment (shared by every test that saw the same content).

    It keeps its own workspace, name and columns so that it outlives edits to (and deletion of) the
    dataset. ``rows`` is ``[{"index": <row index>, "values": {...}}, ...]`` in dataset order.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="dataset_snapshots")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots")
    name = models.CharField(max_length=200)
    columns = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    row_count = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dataset", "content_hash"], name="snapshot_hash_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.row_count} rows, {self.content_hash[:8]})"

    def row_values(self, position: int) -> dict[str, Any]:
        """The values of the row at ``position`` (0-based position in the snapshot)."""
        values: dict[str, Any] = self.rows[position]["values"]
        return values
