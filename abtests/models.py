"""Datasets for A/B tests: named tables of variable values, and frozen snapshots of them.

A dataset's ``columns`` are ``[{"name": "question", "type": "text"}, ...]`` (the types of prompt
variables: text, number, json, image, audio, document). Each DatasetRow holds ``values`` keyed by
column name; media cells are ``{"asset": "<uuid>"}`` or ``{"url": "https://..."}``, empty cells null.
An A/B test runs against a DatasetSnapshot, so later edits never change finished results.
"""

from __future__ import annotations

from decimal import Decimal
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


# --- A/B tests ------------------------------------------------------------------------------------
MIN_VARIANTS = 2
MAX_VARIANTS = 10


class TestStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STOPPED_COST_CAP = "stopped_cost_cap", "Stopped at the cost cap"
    STOPPED_BUDGET = "stopped_budget", "Stopped by the workspace budget"


ACTIVE_STATUSES = (TestStatus.QUEUED, TestStatus.RUNNING, TestStatus.CANCELLING)
FINAL_STATUSES = (
    TestStatus.CANCELLED,
    TestStatus.COMPLETED,
    TestStatus.FAILED,
    TestStatus.STOPPED_COST_CAP,
    TestStatus.STOPPED_BUDGET,
)


class ABTestQuerySet(models.QuerySet["ABTest"]):
    def active(self) -> ABTestQuerySet:
        """Tests the engine still has work for (queued, running, or cancelling)."""
        return self.filter(status__in=ACTIVE_STATUSES)


class ABTest(models.Model):
    """A comparison of 2..10 variants over a dataset snapshot, run cell by cell (variant x row x repetition).

    ``evaluators`` is the list ``abtests.evaluators.validate_evaluators`` accepts. ``total_cells``,
    ``finished_cells``, ``failed_cells`` and ``cost_spent`` are maintained by the engine as Trials finish
    (atomic F() updates), so progress needs no aggregate over the Trials. ``cost_reserved`` is the
    estimated cost of the cells in flight, reserved before each call so the cost cap is never crossed.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="abtests")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="abtests")
    snapshot = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="abtests"
    )
    repetitions = models.PositiveIntegerField(default=1)
    evaluators = models.JSONField(default=list, blank=True)
    pass_threshold = models.FloatField(default=1.0, help_text="A trial passes when its weighted score reaches this.")
    concurrency = models.PositiveIntegerField(default=8, help_text="Cells in flight at once.")
    cost_cap = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True, help_text="USD.")
    status = models.CharField(max_length=20, choices=TestStatus.choices, default=TestStatus.DRAFT)
    reason = models.TextField(blank=True, help_text="Why the run stopped or failed.")
    control = models.ForeignKey(
        "Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The baseline."
    )
    total_cells = models.PositiveIntegerField(default=0)
    finished_cells = models.PositiveIntegerField(default=0)
    failed_cells = models.PositiveIntegerField(default=0)
    cost_spent = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal("0"))
    cost_reserved = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal("0"))
    rate_limited = models.PositiveIntegerField(default=0, help_text="Rate-limit answers that slowed the run.")
    last_progress_at = models.DateTimeField(null=True, blank=True, help_text="When a cell last finished.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ABTestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "A/B test"
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="abtest_list_idx"),
            models.Index(fields=["status"], name="abtest_status_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_draft(self) -> bool:
        return self.status == TestStatus.DRAFT

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINAL_STATUSES


class Variant(models.Model):
    """One arm of a test: a prompt version (or a prompt + label, resolved to a version at start) on a model."""

    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=100)
    prompt = models.ForeignKey("prompts.Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=50, blank=True, help_text="Resolved to a version when the test starts.")
    prompt_version = models.ForeignKey(
        "prompts.PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="abtest_variants"
    )
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    credential = models.ForeignKey(
        "providers.ProviderCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["test_id", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["test", "name"], name="variant_unique_name_per_test")]

    def __str__(self) -> str:
        return self.name


class TrialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"


TRIAL_DONE = (TrialStatus.OK, TrialStatus.ERROR, TrialStatus.SKIPPED)


class Trial(models.Model):
    """One cell (variant x snapshot row x repetition): the durable state of the run engine."""

    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="trials")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="trials")
    row_index = models.PositiveIntegerField(help_text="Position in the test's snapshot, from 0.")
    repetition = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=TrialStatus.choices, default=TrialStatus.PENDING)
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    run = models.ForeignKey("providers.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    evaluation = models.JSONField(default=dict, blank=True, help_text="Per-evaluator results.")
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    reserved_cost = models.DecimalField(
        max_digits=16, decimal_places=8, default=Decimal("0"), help_text="Estimated cost held while it runs."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry after a rate limit, not earlier.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["test_id", "row_index", "repetition", "variant_id"]
        constraints = [
            models.UniqueConstraint(fields=["variant", "row_index", "repetition"], name="trial_unique_cell"),
        ]
        indexes = [
            models.Index(fields=["test", "status"], name="trial_test_status_idx"),
            models.Index(fields=["test", "row_index"], name="trial_test_row_idx"),
        ]

    def __str__(self) -> str:
        return f"Trial {self.pk} (variant {self.variant_id}, row {self.row_index}, rep {self.repetition})"

    @property
    def is_done(self) -> bool:
        return self.status in TRIAL_DONE

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ReviewChoice(models.TextChoices):
    A = "a", "A better"
    B = "b", "B better"
    TIE = "tie", "Tie"


class Review(models.Model):
    """A human judgement: blind pairwise (trial_a vs trial_b, ``choice``) or a 1-5 ``rating`` of trial_a.

    ``sides`` records the randomisation shown to the reviewer (which trial was on the left), so the
    choice can be mapped back to variants without the reviewer ever seeing their names.
    """

    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="reviews")
    trial_a = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="+")
    trial_b = models.ForeignKey(Trial, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    choice = models.CharField(max_length=3, choices=ReviewChoice.choices, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    sides = models.JSONField(default=dict, blank=True, help_text='{"left": <trial id>, "right": <trial id>}')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["test", "-created_at"], name="review_test_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="review_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} of test {self.test_id}"
