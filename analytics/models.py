"""Daily usage rollups over provider Runs, and workspace budgets with their alerts.

``DailyUsage`` holds one row per (day, workspace, provider, model, prompt, prompt version, user, source,
status) with sums and counts, and for successful calls latency and TTFT histograms (fixed log-spaced
buckets, see ``analytics.histograms``) that past days' percentiles are read from; ``DailyModelUsage`` is
the same summed per model (fewer rows, for questions about nothing but providers and models);
``WeeklyUsage`` is ``DailyUsage`` summed per complete week (for long ranges). ``RollupState`` says
through which day the rollups are complete; later days (normally only today) are aggregated live from
``providers.Run``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class UsageFigures(models.Model):
    """Sums and counts of a rollup row's calls; latency and TTFT histograms of its successful ones."""

    calls = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=8, default=Decimal("0"))
    latency_sum = models.BigIntegerField(default=0, help_text="Sum of latency (ms) over calls with a latency.")
    latency_count = models.PositiveIntegerField(default=0)
    ttft_sum = models.BigIntegerField(default=0)
    ttft_count = models.PositiveIntegerField(default=0)
    latency_hist = models.BinaryField(
        default=b"", help_text="Latency histogram of successful calls (analytics.histograms: sparse bucket counts)."
    )
    latency_max = models.PositiveIntegerField(null=True, blank=True)
    ttft_hist = models.BinaryField(default=b"", help_text="Time-to-first-token histogram of successful calls.")
    ttft_max = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        abstract = True


class FullKeyUsage(UsageFigures):
    """The figures under the full key: provider, model, prompt, version, user, source and status (the day
    and workspace are declared by each table)."""

    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=200)
    prompt = models.ForeignKey(
        "prompts.Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    prompt_version = models.ForeignKey(
        "prompts.PromptVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    source = models.CharField(max_length=20)
    status = models.CharField(max_length=10)

    class Meta:
        abstract = True


class DailyUsage(FullKeyUsage):
    day = models.DateField()
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = "daily usage"
        verbose_name_plural = "daily usage"
        indexes = [models.Index(fields=["workspace", "day"], name="dailyusage_ws_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider}/{self.model} {self.calls} calls"


class DailyModelUsage(UsageFigures):
    """``DailyUsage`` summed over prompts, users and sources: one row per (day, workspace, provider, model,
    status), several times fewer rows. Questions that filter or group by nothing else (the unfiltered
    dashboard, a provider or model filter, breakdowns by provider or model) read these."""

    day = models.DateField()
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=10)

    FIELDS = frozenset({"day", "workspace_id", "provider", "model", "status"})

    class Meta:
        verbose_name = "daily usage per model"
        verbose_name_plural = "daily usage per model"
        indexes = [models.Index(fields=["workspace", "day"], name="dailymodelusage_ws_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider}/{self.model} {self.calls} calls"


class WeeklyUsage(FullKeyUsage):
    """``DailyUsage`` summed over the seven days of a week (Monday to Sunday, UTC), with the same key; ``day``
    is the Monday. Only complete weeks have rows (every day rolled up, so the Sunday is at most
    ``RollupState.through``). Long ranges read their whole weeks here and their first and last days from
    ``DailyUsage``: about five times fewer rows and histogram bytes over a year."""

    day = models.DateField(help_text="The Monday of the week.")
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = "weekly usage"
        verbose_name_plural = "weekly usage"
        indexes = [models.Index(fields=["workspace", "day"], name="weeklyusage_ws_day_idx")]

    def __str__(self) -> str:
        return f"week of {self.day} {self.provider}/{self.model} {self.calls} calls"


class RollupState(models.Model):
    """A single row: rollups are complete for every day up to and including ``through``."""

    through = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Rollups through {self.through}"


class Budget(models.Model):
    """A workspace's monthly spending budget (USD)."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="budget")
    monthly_limit = models.DecimalField(max_digits=12, decimal_places=2)
    hard_stop = models.BooleanField(
        default=False, help_text="Refuse new playground, API and A/B calls once the month's spend reaches the limit."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.workspace}: ${self.monthly_limit}/month"


class BudgetAlert(models.Model):
    """A budget threshold crossed in a month; one row (and one email) per threshold per month."""

    THRESHOLDS = (50, 80, 100)

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="budget_alerts")
    month = models.DateField(help_text="The first day of the month.")
    threshold = models.PositiveSmallIntegerField()
    spent = models.DecimalField(max_digits=20, decimal_places=8)
    monthly_limit = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "-threshold"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "month", "threshold"], name="budget_alert_once_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.workspace} {self.month:%Y-%m} {self.threshold}%"
