"""Writes for analytics: rollup refreshes, budgets and budget alerts."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Membership, Role
from analytics import histograms
from analytics.filters import day_start, today
from analytics.models import (
    Budget,
    BudgetAlert,
    DailyModelUsage,
    DailyUsage,
    RollupState,
    UsageFigures,
    WeeklyUsage,
)
from analytics.selectors import FINISHED, budget_status, month_start
from providers.models import Run, RunStatus

logger = logging.getLogger(__name__)

RECHECK_DAYS = 2  # runs finish after midnight: the last days are recomputed at every refresh
BATCH_SIZE = 2000
MAX_BUDGET = Decimal("100000000")

BUDGET_REQUIRED = "Enter the monthly budget in USD, for example 250."
BUDGET_POSITIVE = "The monthly budget must be more than 0."
BUDGET_TOO_LARGE = "The monthly budget must be less than 100,000,000."
ALERT_SUBJECT = "[Prompt Studio] {workspace}: {threshold}% of this month's budget spent"
ALERT_BODY = (
    "The workspace “{workspace}” has spent ${spent} of its ${limit} budget for {month} ({percent}%).\n\n"
    "{stop}Budgets and usage: the Analytics page of the studio.\n"
)
ALERT_STOP = "The hard stop is on: new playground, API and A/B test calls are refused until the month ends or an admin raises the budget.\n\n"


@dataclass(frozen=True)
class RefreshResult:
    start: date | None
    end: date | None
    rows: int


def _first_run_day() -> date | None:
    first = Run.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return timezone.localtime(first, timezone=day_start(today()).tzinfo).date() if first else None


ROLLUP_KEY = ("workspace_id", "provider", "model", "prompt_id", "prompt_version_id", "user_id", "source")
MODEL_KEY = ("day", "workspace_id", "provider", "model", "status")  # DailyModelUsage
WEEK_KEY = ("day", *ROLLUP_KEY, "status")  # WeeklyUsage (day: the Monday)
SUMMED = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "latency_sum",
    "latency_count",
    "ttft_sum",
    "ttft_count",
)
CHUNK_DAYS = 31  # days aggregated per pass (bounds the memory a full rebuild needs)


@transaction.atomic
def rollups_refresh(*, start: date | None = None, end: date | None = None) -> RefreshResult:
    """Recompute the daily rollups for ``start``..``end`` (default: from the last complete day, minus a
    margin, to yesterday) and mark them complete. Idempotent: a day's rows are replaced, never added to.

    The covered days stay contiguous: if the requested start leaves a gap after the last complete day
    (or nothing was rolled up yet), the refresh starts earlier.
    """
    state, _ = RollupState.objects.select_for_update().get_or_create(pk=1)
    yesterday = today() - timedelta(days=1)
    end = min(end or yesterday, yesterday)
    if state.through is not None:
        default_start = state.through - timedelta(days=RECHECK_DAYS - 1)
    else:
        default_start = _first_run_day() or end
    start = default_start if start is None else min(start, default_start)
    if start > end:
        return RefreshResult(None, None, 0)
    DailyUsage.objects.filter(day__gte=start, day__lte=end).delete()
    DailyModelUsage.objects.filter(day__gte=start, day__lte=end).delete()
    rows = 0
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=CHUNK_DAYS - 1))
        rows += _rollup_days(chunk_start, chunk_end)
        chunk_start = chunk_end + timedelta(days=1)
    state.through = max(state.through or end, end)
    state.refreshed_at = timezone.now()
    state.save()
    _rollup_weeks(start, end, through=state.through)
    return RefreshResult(start, end, rows)


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def _rollup_weeks(start: date, end: date, *, through: date) -> int:
    """Recompute the ``WeeklyUsage`` rows of the complete weeks (Sunday at most ``through``) that overlap
    ``start``..``end``, from the daily rows: the same sums, the histograms added up."""
    first, last = week_of(start), week_of(end)
    if last + timedelta(days=6) > through:
        last -= timedelta(days=7)
    if last < first:
        return 0
    WeeklyUsage.objects.filter(day__gte=first, day__lte=last).delete()
    per_week: dict[tuple[Any, ...], UsageFigures] = {}
    daily = DailyUsage.objects.filter(day__gte=first, day__lte=last + timedelta(days=6)).order_by()
    for usage in daily.iterator(chunk_size=BATCH_SIZE):
        key = (week_of(usage.day), *(getattr(usage, k) for k in ROLLUP_KEY), usage.status)
        _add_to_row(per_week, key, usage, model=WeeklyUsage, fields=WEEK_KEY)
    _compact(per_week.values())
    WeeklyUsage.objects.bulk_create(per_week.values(), batch_size=BATCH_SIZE)  # type: ignore[arg-type]
    return len(per_week)


def _histograms(runs: QuerySet[Run]) -> dict[tuple[Any, ...], tuple[bytes, bytes]]:
    """(latency, TTFT) histograms of the successful runs, per (day, *ROLLUP_KEY)."""
    index: dict[tuple[Any, ...], int] = {}
    owners: list[int] = []
    latencies: list[int] = []
    ttfts: list[int] = []
    values = (
        runs.filter(status=RunStatus.OK)
        .annotate(run_day=TruncDate("created_at", tzinfo=UTC))
        .values_list("run_day", *ROLLUP_KEY, "latency_ms", "ttft_ms")
    )
    for *key, latency, ttft in values.iterator(chunk_size=BATCH_SIZE * 5):
        owners.append(index.setdefault(tuple(key), len(index)))
        latencies.append(-1 if latency is None else latency)
        ttfts.append(-1 if ttft is None else ttft)
    blobs: list[list[bytes]] = []
    owner_array = np.asarray(owners, dtype=np.int64)
    for column in (latencies, ttfts):
        array = np.asarray(column, dtype=np.int64)
        present = array >= 0
        combined = owner_array[present] * histograms.BUCKETS + histograms.bucket_of(array[present])
        cells, counts = np.unique(combined, return_counts=True)
        entries = np.empty(len(cells), dtype=histograms.ENTRY)
        entries["bucket"] = cells % histograms.BUCKETS
        entries["count"] = counts
        bounds = np.searchsorted(cells // histograms.BUCKETS, np.arange(len(index) + 1))
        blobs.append([entries[bounds[g] : bounds[g + 1]].tobytes() for g in range(len(index))])
    return {key: (blobs[0][g], blobs[1][g]) for key, g in index.items()}


def _rollup_days(start: date, end: date) -> int:
    runs = Run.objects.filter(
        created_at__gte=day_start(start), created_at__lt=day_start(end + timedelta(days=1)), status__in=FINISHED
    ).order_by()
    ok = Q(status=RunStatus.OK)
    groups = runs.values(*ROLLUP_KEY, "status", run_day=TruncDate("created_at", tzinfo=UTC)).annotate(
        n=Count("id"),
        s_input=Sum("input_tokens"),
        s_output=Sum("output_tokens"),
        s_cached=Sum("cached_tokens"),
        s_reasoning=Sum("reasoning_tokens"),
        s_cost=Sum("cost"),
        s_latency=Sum("latency_ms", filter=ok),
        n_latency=Count("latency_ms", filter=ok),
        max_latency=Max("latency_ms", filter=ok),
        s_ttft=Sum("ttft_ms", filter=ok),
        n_ttft=Count("ttft_ms", filter=ok),
        max_ttft=Max("ttft_ms", filter=ok),
    )
    hists = _histograms(runs)
    batch: list[DailyUsage] = []
    per_model: dict[tuple[Any, ...], UsageFigures] = {}
    rows = 0
    for g in groups.iterator(chunk_size=BATCH_SIZE):
        latency_hist, ttft_hist = b"", b""
        if g["status"] == RunStatus.OK:
            latency_hist, ttft_hist = hists.get((g["run_day"], *(g[k] for k in ROLLUP_KEY)), (b"", b""))
        batch.append(
            DailyUsage(
                day=g["run_day"],
                workspace_id=g["workspace_id"],
                provider=g["provider"],
                model=g["model"],
                prompt_id=g["prompt_id"],
                prompt_version_id=g["prompt_version_id"],
                user_id=g["user_id"],
                source=g["source"],
                status=g["status"],
                calls=g["n"],
                input_tokens=g["s_input"] or 0,
                output_tokens=g["s_output"] or 0,
                cached_tokens=g["s_cached"] or 0,
                reasoning_tokens=g["s_reasoning"] or 0,
                cost=g["s_cost"] or 0,
                latency_sum=g["s_latency"] or 0,
                latency_count=g["n_latency"] or 0,
                latency_max=g["max_latency"],
                latency_hist=latency_hist,
                ttft_sum=g["s_ttft"] or 0,
                ttft_count=g["n_ttft"] or 0,
                ttft_max=g["max_ttft"],
                ttft_hist=ttft_hist,
            )
        )
        key = tuple(getattr(batch[-1], k) for k in MODEL_KEY)
        _add_to_row(per_model, key, batch[-1], model=DailyModelUsage, fields=MODEL_KEY)
        if len(batch) >= BATCH_SIZE:
            DailyUsage.objects.bulk_create(batch)
            rows += len(batch)
            batch = []
    if batch:
        DailyUsage.objects.bulk_create(batch)
        rows += len(batch)
    _compact(per_model.values())
    DailyModelUsage.objects.bulk_create(per_model.values(), batch_size=BATCH_SIZE)  # type: ignore[arg-type]
    return rows


def _compact(rows: Iterable[UsageFigures]) -> None:
    """Concatenated histograms -> one entry per bucket."""
    for row in rows:
        row.latency_hist = histograms.encode(histograms.decode(row.latency_hist))
        row.ttft_hist = histograms.encode(histograms.decode(row.ttft_hist))


def _add_to_row(
    rows: dict[tuple[Any, ...], UsageFigures],
    key: tuple[Any, ...],
    usage: UsageFigures,
    *,
    model: type[UsageFigures],
    fields: tuple[str, ...],
) -> None:
    """Add a rollup row's sums, counts, maxima and histograms (concatenated) to ``rows[key]``: a new
    ``model`` row whose ``fields`` are the key's values, the first time."""
    row = rows.get(key)
    if row is None:
        row = rows[key] = model(**dict(zip(fields, key, strict=True)))
        row.cost = Decimal(0)
        row.latency_hist = row.ttft_hist = b""
    for name in SUMMED:
        value = getattr(usage, name)
        setattr(row, name, getattr(row, name) + (Decimal(str(value)) if name == "cost" else value))
    for name in ("latency", "ttft"):
        setattr(row, f"{name}_hist", bytes(getattr(row, f"{name}_hist")) + bytes(getattr(usage, f"{name}_hist")))
        values = [v for v in (getattr(row, f"{name}_max"), getattr(usage, f"{name}_max")) if v is not None]
        setattr(row, f"{name}_max", max(values) if values else None)


# --- budgets ------------------------------------------------------------------------------------
def _clean_limit(value: Any) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError({"monthly_limit": [BUDGET_REQUIRED]})
    try:
        limit = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise ValidationError({"monthly_limit": [BUDGET_REQUIRED]}) from None
    if not limit.is_finite() or limit <= 0:
        raise ValidationError({"monthly_limit": [BUDGET_POSITIVE]})
    if limit >= MAX_BUDGET:
        raise ValidationError({"monthly_limit": [BUDGET_TOO_LARGE]})
    return limit.quantize(Decimal("0.01"))


@transaction.atomic
def budget_set(*, workspace: Any, user: Any, monthly_limit: Any, hard_stop: bool) -> Budget:
    """Create or change the workspace's monthly budget (the caller checks the admin role)."""
    limit = _clean_limit(monthly_limit)
    budget, _ = Budget.objects.update_or_create(
        workspace=workspace,
        defaults={"monthly_limit": limit, "hard_stop": bool(hard_stop), "updated_by": user},
    )
    budget_alerts_check(workspace=workspace)
    return budget


@transaction.atomic
def budget_delete(*, workspace: Any) -> None:
    Budget.objects.filter(workspace=workspace).delete()


def _recipients(workspace_id: int) -> list[str]:
    return list(
        Membership.objects.filter(workspace_id=workspace_id, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def budget_alerts_check(*, workspace: Any, now: datetime | None = None) -> list[BudgetAlert]:
    """Record each threshold (50, 80, 100 %) the month's spend has crossed, once per month, and email
    the workspace's owners and admins about the highest new one. Returns the alerts made now."""
    workspace_id = getattr(workspace, "pk", workspace)
    status = budget_status(workspace_id=workspace_id, now=now)
    if status is None:
        return []
    crossed = [t for t in BudgetAlert.THRESHOLDS if status.spent * 100 >= status.budget.monthly_limit * t]
    if not crossed:
        return []
    month = month_start(status.month_start)
    existing = set(
        BudgetAlert.objects.filter(workspace_id=workspace_id, month=month).values_list("threshold", flat=True)
    )
    made: list[BudgetAlert] = []
    for threshold in crossed:
        if threshold in existing:
            continue
        try:
            with transaction.atomic():
                made.append(
                    BudgetAlert.objects.create(
                        workspace_id=workspace_id,
                        month=month,
                        threshold=threshold,
                        spent=status.spent,
                        monthly_limit=status.budget.monthly_limit,
                    )
                )
        except IntegrityError:  # another process recorded it first
            continue
    if made:
        _send_alert(workspace_id, made[-1], status.budget)
    return made


def _send_alert(workspace_id: int, alert: BudgetAlert, budget: Budget) -> None:
    from accounts.models import Workspace

    name = Workspace.objects.filter(pk=workspace_id).values_list("name", flat=True).first() or f"#{workspace_id}"
    recipients = _recipients(workspace_id)
    if not recipients:
        return
    percent = int(alert.spent * 100 / alert.monthly_limit) if alert.monthly_limit else 0
    body = ALERT_BODY.format(
        workspace=name,
        spent=f"{alert.spent:,.2f}",
        limit=f"{alert.monthly_limit:,.2f}",
        month=f"{alert.month:%B %Y}",
        percent=percent,
        stop=ALERT_STOP if budget.hard_stop and alert.threshold >= 100 else "",
    )
    try:
        send_mail(
            ALERT_SUBJECT.format(workspace=name, threshold=alert.threshold),
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:  # a mail server outage must not block runs; the alert row stays for the header
        logger.exception("Could not send the budget alert email for workspace %s", workspace_id)


def budget_alerts_check_all(*, now: datetime | None = None) -> int:
    """Check every workspace that has a budget; returns how many alerts were made."""
    count = 0
    for workspace_id in Budget.objects.values_list("workspace_id", flat=True).order_by("workspace_id"):
        with transaction.atomic():
            count += len(budget_alerts_check(workspace=workspace_id, now=now))
    return count
