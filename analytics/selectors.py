"""Reads for analytics. Every sum and count is computed by the database.

Sums and counts for whole past days come from the ``DailyUsage`` rollups (complete through
``RollupState.through``; per model when nothing else is asked; on PostgreSQL, for buckets no finer than
weeks, whole weeks from ``WeeklyUsage``); later days (normally only today) are aggregated live from
``providers.Run``.
Hourly series always read Runs. The number of queries never depends on the number of runs, groups or
buckets.

Percentiles (latency and time to first token of successful calls):

- *exact* when every day of the range is aggregated live (nothing rolled up yet, or only today), and for
  hourly buckets: read from Runs. PostgreSQL computes them with ``percentile_cont``; other databases
  (SQLite) fetch only the latency columns of the filtered runs and interpolate the same way (linear, like
  ``percentile_cont`` and numpy's default).
- *approximate* when the range includes rolled-up days: read from the rollups' fixed log-spaced
  histograms (``analytics.histograms``), summed over the rows of the range, with today's runs bucketed
  the same way; within ``histograms.MAX_RELATIVE_ERROR`` of the exact value. Results say which
  (``percentiles_method``: ``histograms.EXACT`` or ``histograms.APPROXIMATE``).

Definitions: *calls* are finished runs (ok or error; running ones are left out); *error rate* is errors
/ calls; latency and TTFT figures cover successful calls that report them.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connections, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncHour, TruncWeek
from django.utils import timezone

from analytics import histograms
from analytics.filters import Filters, day_start, today
from analytics.models import Budget, BudgetAlert, DailyModelUsage, DailyUsage, RollupState, WeeklyUsage
from providers.models import ModelInfo, Provider, Run, RunSource, RunStatus

FINISHED = (RunStatus.OK.value, RunStatus.ERROR.value)
FRACTIONS = (50, 95, 99)
PERCENTILE_COLUMNS = (("latency", "latency_ms"), ("ttft", "ttft_ms"))
NO_PROMPT = "No prompt (draft)"
NO_VERSION = "Draft (no version)"
NO_USER = "No user"
COST_PLACES = Decimal("0.00000001")


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, output_field=FloatField(), fraction=repr(float(fraction)))


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (what percentile_cont and numpy do)."""
    n = len(sorted_values)
    if n == 0:
        return None
    position = fraction * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low))


def _is_postgres(qs: QuerySet[Any]) -> bool:
    return connections[qs.db].vendor == "postgresql"


# --- results ------------------------------------------------------------------------------------
@dataclass
class Totals:
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_sum: int = 0
    latency_count: int = 0
    ttft_sum: int = 0
    ttft_count: int = 0

    def add(self, row: dict[str, Any], prefix: str = "t_") -> Totals:
        """Add an aggregate row whose keys are ``prefix`` + field name (None counts as 0)."""
        for name in (
            "calls",
            "errors",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "latency_sum",
            "latency_count",
            "ttft_sum",
            "ttft_count",
        ):
            setattr(self, name, getattr(self, name) + int(row.get(prefix + name) or 0))
        # SQLite sums decimals as floats: round back to the column's 8 places.
        self.cost += Decimal(str(row.get(prefix + "cost") or 0)).quantize(COST_PLACES)
        return self

    @property
    def ok_calls(self) -> int:
        return self.calls - self.errors

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def latency_mean(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None

    @property
    def ttft_mean(self) -> float | None:
        return self.ttft_sum / self.ttft_count if self.ttft_count else None

    @property
    def cost_per_1k(self) -> Decimal | None:
        return self.cost * 1000 / self.calls if self.calls else None


@dataclass
class Percentiles:
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    ttft_p99: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Percentiles:
        return cls(**{k: (None if row.get(k) is None else float(row[k])) for k in cls.__dataclass_fields__})

    @classmethod
    def from_values(cls, latencies: list[int], ttfts: list[int]) -> Percentiles:
        latencies.sort()
        ttfts.sort()
        values: dict[str, float | None] = {}
        for name, column in (("latency", latencies), ("ttft", ttfts)):
            for q in FRACTIONS:
                values[f"{name}_p{q}"] = percentile(column, q / 100)
        return cls(**values)


@dataclass
class Summary:
    filters: Filters
    totals: Totals
    percentiles: Percentiles
    percentiles_method: str = histograms.EXACT


@dataclass
class Point:
    bucket: date | datetime
    totals: Totals
    percentiles: Percentiles


@dataclass
class Timeseries:
    filters: Filters
    interval: str
    points: list[Point]
    percentiles_method: str = histograms.EXACT


@dataclass
class BreakdownRow:
    key: Any
    label: str
    sublabel: str
    filter_params: dict[str, str]
    totals: Totals
    percentiles: Percentiles
    share: float = 0.0  # of the largest row's cost (0..1), for bars


@dataclass
class Breakdown:
    filters: Filters
    by: str
    rows: list[BreakdownRow]
    totals: Totals = field(default_factory=Totals)
    percentiles_method: str = histograms.EXACT


@dataclass
class MonthEstimate:
    month_start: date
    spent: Decimal
    projected: Decimal
    days_elapsed: float
    days_in_month: int


# --- querysets ----------------------------------------------------------------------------------
def rollup_through() -> date | None:
    """The last day the rollups are complete for (never today or later)."""
    through = RollupState.objects.filter(pk=1).values_list("through", flat=True).first()
    if through is None:
        return None
    return min(through, today() - timedelta(days=1))


def runs_for(filters: Filters) -> QuerySet[Run]:
    """Finished runs in the filters' days and filters (no ordering: for aggregates)."""
    qs = Run.objects.filter(
        created_at__gte=day_start(filters.start),
        created_at__lt=day_start(filters.end + timedelta(days=1)),
        **filters.run_filters(),
    )
    if not filters.status:
        qs = qs.filter(status__in=FINISHED)
    return qs.order_by()


def _referenced(expressions: Iterable[Any]) -> set[str]:
    """The model fields that expressions (F(), TruncWeek("day") ...) read."""
    names: set[str] = set()
    for expression in expressions:
        if isinstance(expression, F):
            names.add(expression.name)
        elif hasattr(expression, "get_source_expressions"):
            names |= _referenced(expression.get_source_expressions())
    return names


def _per_model_enough(filters: Filters, group: dict[str, Any] | None) -> bool:
    """Whether the filters and the grouping need nothing but what ``DailyModelUsage`` keeps."""
    return set(filters.run_filters()) | _referenced((group or {}).values()) <= DailyModelUsage.FIELDS


def usage_for(filters: Filters, group: dict[str, Any] | None = None) -> QuerySet[Any]:
    """The rollup rows of the filters' days: per model (``DailyModelUsage``, fewer rows) when neither the
    filters nor the grouping need another dimension, else the full ``DailyUsage``."""
    model = DailyModelUsage if _per_model_enough(filters, group) else DailyUsage
    return model.objects.filter(day__gte=filters.start, day__lte=filters.end, **filters.run_filters()).order_by()


def whole_weeks(filters: Filters) -> tuple[date, date] | None:
    """(first Monday, last Sunday) of the complete weeks (Monday to Sunday) inside the filters' days."""
    monday = filters.start + timedelta(days=-filters.start.weekday() % 7)
    sunday = filters.end - timedelta(days=(filters.end.weekday() + 1) % 7)
    return (monday, sunday) if sunday > monday else None


def usage_parts(filters: Filters, group: dict[str, Any] | None = None, *, weekly: bool = True) -> list[QuerySet[Any]]:
    """The rollup rows of the filters' (rolled-up) days, as querysets of rows with the same columns to add
    up: the whole weeks from ``WeeklyUsage`` and the days before and after them from the daily rollups
    when ``weekly`` (buckets no finer than weeks) and the question needs the full key, else
    ``usage_for``'s rows alone. Each row's ``day`` is a day of its rows' week, so ``TruncWeek("day")``
    and the dimension columns group both kinds alike."""
    weeks = whole_weeks(filters) if weekly and not _per_model_enough(filters, group) else None
    if weeks is None:
        return [usage_for(filters, group)]
    monday, sunday = weeks
    parts = [WeeklyUsage.objects.filter(day__gte=monday, day__lte=sunday, **filters.run_filters()).order_by()]
    if filters.start < monday:
        parts.append(usage_for(filters.with_range(filters.start, monday - timedelta(days=1)), group))
    if sunday < filters.end:
        parts.append(usage_for(filters.with_range(sunday + timedelta(days=1), filters.end), group))
    return parts


def _split(filters: Filters, through: date | None) -> tuple[Filters | None, Filters | None]:
    """(days served by rollups, days aggregated live)."""
    if through is None or filters.start > through:
        return None, filters
    if filters.end <= through:
        return filters, None
    return filters.with_range(filters.start, through), filters.with_range(through + timedelta(days=1), filters.end)


ERROR_Q = Q(status=RunStatus.ERROR)
OK_Q = Q(status=RunStatus.OK)


def raw_sums() -> dict[str, Any]:
    return {
        "t_calls": Count("id"),
        "t_errors": Count("id", filter=ERROR_Q),
        "t_input_tokens": Sum("input_tokens"),
        "t_output_tokens": Sum("output_tokens"),
        "t_cached_tokens": Sum("cached_tokens"),
        "t_reasoning_tokens": Sum("reasoning_tokens"),
        "t_cost": Sum("cost"),
        "t_latency_sum": Sum("latency_ms", filter=OK_Q),
        "t_latency_count": Count("latency_ms", filter=OK_Q),
        "t_ttft_sum": Sum("ttft_ms", filter=OK_Q),
        "t_ttft_count": Count("ttft_ms", filter=OK_Q),
    }


def rollup_sums() -> dict[str, Any]:
    return {
        "t_calls": Sum("calls"),
        "t_errors": Sum("calls", filter=ERROR_Q),
        "t_input_tokens": Sum("input_tokens"),
        "t_output_tokens": Sum("output_tokens"),
        "t_cached_tokens": Sum("cached_tokens"),
        "t_reasoning_tokens": Sum("reasoning_tokens"),
        "t_cost": Sum("cost"),
        "t_latency_sum": Sum("latency_sum"),
        "t_latency_count": Sum("latency_count"),
        "t_ttft_sum": Sum("ttft_sum"),
        "t_ttft_count": Sum("ttft_count"),
    }


def _key(row: dict[str, Any], aliases: Iterable[str], normalize: Any = None) -> Any:
    values = tuple(row[a] for a in aliases)
    key = values[0] if len(values) == 1 else values
    return normalize(key) if normalize else key


def grouped_sums(
    filters: Filters,
    *,
    raw_group: dict[str, Any],
    rollup_group: dict[str, Any] | None,
    through: date | None,
    normalize: Any = None,
) -> dict[Any, Totals]:
    """Totals per group key; rollups for rolled-up days (when ``rollup_group`` is given), Runs for the rest."""
    rolled, live = _split(filters, through if rollup_group is not None else None)
    result: dict[Any, Totals] = defaultdict(Totals)
    if rolled is not None and rollup_group is not None:
        for row in usage_for(rolled, rollup_group).values(**rollup_group).annotate(**rollup_sums()):
            result[_key(row, rollup_group, normalize)].add(row)
    if live is not None:
        for row in runs_for(live).values(**raw_group).annotate(**raw_sums()):
            result[_key(row, raw_group, normalize)].add(row)
    return result


def total_sums(filters: Filters, *, through: date | None) -> Totals:
    rolled, live = _split(filters, through)
    totals = Totals()
    if rolled is not None:
        totals.add(usage_for(rolled).aggregate(**rollup_sums()))
    if live is not None:
        totals.add(runs_for(live).aggregate(**raw_sums()))
    return totals


def _percentile_aggregates() -> dict[str, Any]:
    return {f"{name}_p{q}": PercentileCont(column, q / 100) for name, column in PERCENTILE_COLUMNS for q in FRACTIONS}


PG_SORT_MEMORY = "64MB"  # percentile_cont sorts and grouped histograms hash: keep them in memory


def _pg_sort_memory(qs: QuerySet[Any]) -> None:
    """Raise work_mem for the current transaction only (the caller holds an atomic block)."""
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{PG_SORT_MEMORY}'")


def percentiles_for(filters: Filters) -> Percentiles:
    qs = runs_for(filters).filter(status=RunStatus.OK)
    if _is_postgres(qs):
        with transaction.atomic(using=qs.db):
            _pg_sort_memory(qs)
            return Percentiles.from_row(qs.aggregate(**_percentile_aggregates()))
    latencies: list[int] = []
    ttfts: list[int] = []
    for latency, ttft in qs.values_list("latency_ms", "ttft_ms"):
        if latency is not None:
            latencies.append(latency)
        if ttft is not None:
            ttfts.append(ttft)
    return Percentiles.from_values(latencies, ttfts)


def grouped_percentiles(filters: Filters, *, group: dict[str, Any], normalize: Any = None) -> dict[Any, Percentiles]:
    qs = runs_for(filters).filter(status=RunStatus.OK)
    if _is_postgres(qs):
        with transaction.atomic(using=qs.db):
            _pg_sort_memory(qs)
            return {
                _key(row, group, normalize): Percentiles.from_row(row)
                for row in qs.values(**group).annotate(**_percentile_aggregates())
            }
    aliases = list(group)
    columns: dict[Any, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for *keys, latency, ttft in qs.annotate(**group).values_list(*aliases, "latency_ms", "ttft_ms"):
        key = _key(dict(zip(aliases, keys, strict=True)), aliases, normalize)
        latencies, ttfts = columns[key]
        if latency is not None:
            latencies.append(latency)
        if ttft is not None:
            ttfts.append(ttft)
    return {key: Percentiles.from_values(*values) for key, values in columns.items()}


# --- percentiles: exact from Runs, or from the rollups' histograms --------------------------------
@dataclass
class PercentileSets:
    """Percentiles overall (key None), per time bucket and per dimension key, and how they were made."""

    method: str
    overall: Percentiles = field(default_factory=Percentiles)
    per_bucket: dict[Any, Percentiles] = field(default_factory=dict)
    per_key: dict[Any, Percentiles] = field(default_factory=dict)


class _Histograms:
    """Summed latency and TTFT histograms of one group (overall, a time bucket or a breakdown key)."""

    def __init__(self) -> None:
        self.latency = np.zeros(histograms.BUCKETS, dtype=np.int64)
        self.ttft = np.zeros(histograms.BUCKETS, dtype=np.int64)
        self.latency_max = 0
        self.ttft_max = 0

    def add_blobs(self, latency: Any, ttft: Any, latency_max: int | None, ttft_max: int | None) -> None:
        """Add encoded histograms (one row's, or many rows' concatenated: entries may repeat a bucket)."""
        self.latency += histograms.decode(latency)
        self.ttft += histograms.decode(ttft)
        self.latency_max = max(self.latency_max, latency_max or 0)
        self.ttft_max = max(self.ttft_max, ttft_max or 0)

    def add_buckets(
        self, latency: Sequence[int], ttft: Sequence[int], latency_max: int | None, ttft_max: int | None
    ) -> None:
        """Add single calls given by their bucket indexes."""
        self.latency += np.bincount(np.asarray(latency, dtype=np.int64), minlength=histograms.BUCKETS)
        self.ttft += np.bincount(np.asarray(ttft, dtype=np.int64), minlength=histograms.BUCKETS)
        self.latency_max = max(self.latency_max, latency_max or 0)
        self.ttft_max = max(self.ttft_max, ttft_max or 0)

    def add(self, other: _Histograms) -> None:
        self.latency += other.latency
        self.ttft += other.ttft
        self.latency_max = max(self.latency_max, other.latency_max)
        self.ttft_max = max(self.ttft_max, other.ttft_max)

    def percentiles(self) -> Percentiles:
        fractions = [q / 100 for q in FRACTIONS]
        latency = histograms.percentiles(self.latency, fractions, largest=self.latency_max)
        ttft = histograms.percentiles(self.ttft, fractions, largest=self.ttft_max)
        return Percentiles(
            **{f"latency_p{q}": v for q, v in zip(FRACTIONS, latency, strict=True)},
            **{f"ttft_p{q}": v for q, v in zip(FRACTIONS, ttft, strict=True)},
        )


def _histogram_sets(
    interval: str | None, by: str | None, *, overall: bool = True
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[tuple[str, list[str]]], Any]:
    """(rollup columns, run columns, dimension columns, grouping sets as (name, aliases), bucket normaliser)."""
    rollup_columns: dict[str, Any] = {}
    run_columns: dict[str, Any] = {}
    sets: list[tuple[str, list[str]]] = [("overall", [])] if overall else []
    normalize: Any = None
    if interval is not None:
        raw_group, rollup_group, normalize = _bucket_group(interval)
        if rollup_group is None:
            raise ValueError(f"no daily rollups for {interval!r} buckets")
        rollup_columns.update(rollup_group)
        run_columns.update(raw_group)
        sets.append(("bucket", ["bucket"]))
    dimension = _dimension_group(by) if by is not None else {}
    if dimension:
        sets.append(("key", list(dimension)))
    return rollup_columns, run_columns, dimension, sets, normalize


def _set_key(name: str, row: dict[str, Any], aliases: list[str], normalize: Any) -> Any:
    if name == "overall":
        return None
    if name == "bucket":
        return normalize(row["bucket"])
    return _key(row, aliases)


def _pg_grouped(
    qs: QuerySet[Any], aliases: list[str], sets: list[tuple[str, list[str]]], aggregates: str
) -> list[dict[str, Any]]:
    """Run ``aggregates`` over ``qs`` (a .values() queryset whose columns include ``aliases``) for each
    grouping set in ONE query; each row gets ``set`` (the grouping set's name)."""
    sql, params = qs.query.sql_with_params()
    columns = ", ".join(f"sub.{a}" for a in aliases)
    grouping = f"GROUPING({columns})" if aliases else "0"
    group_by = ", ".join("(" + ", ".join(f"sub.{a}" for a in set_aliases) + ")" for _, set_aliases in sets)
    query = (
        f"SELECT {grouping} AS g_mask{', ' + columns if aliases else ''}, {aggregates} "
        f"FROM ({sql}) AS sub GROUP BY GROUPING SETS ({group_by})"
    )
    masks = {
        sum(1 << (len(aliases) - 1 - i) for i, a in enumerate(aliases) if a not in set_aliases): name
        for name, set_aliases in sets
    }
    with _binary_cursor(qs.db) as cursor:
        cursor.execute(query, params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["set"] = masks[row["g_mask"]]
    return rows


def _binary_cursor(alias: str) -> CursorWrapper:
    """A cursor that receives results in PostgreSQL's binary format: the grouped histograms arrive as
    raw bytes instead of hex text (half the bytes, no hex encoding and decoding), which is most of the
    time a long range takes. Django's cursors are client-side (text results only); this one binds its
    parameters on the server, and goes through Django's wrapper so queries are still logged and counted."""
    import psycopg

    wrapper = connections[alias]
    wrapper.ensure_connection()
    cursor = psycopg.Cursor(wrapper.connection)
    cursor.format = psycopg.pq.Format.BINARY
    return CursorDebugWrapper(cursor, wrapper) if wrapper.queries_logged else CursorWrapper(cursor, wrapper)


def _percentile_sets_of(groups: dict[tuple[str, Any], _Histograms]) -> PercentileSets:
    result = PercentileSets(method=histograms.APPROXIMATE)
    for (name, key), group in groups.items():
        if name == "overall":
            result.overall = group.percentiles()
        elif name == "bucket":
            result.per_bucket[key] = group.percentiles()
        else:
            result.per_key[key] = group.percentiles()
    return result


def histogram_percentiles(
    rolled: Filters, live: Filters | None, *, interval: str | None = None, by: str | None = None
) -> PercentileSets:
    """Percentiles from the rollup histograms of ``rolled``'s days plus the runs of ``live``'s days,
    bucketed the same way; overall, per time bucket and per key from the same two queries (rows grouped
    in Python: the portable path; PostgreSQL uses ``usage_sets``' grouped queries)."""
    rollup_columns, run_columns, dimension, sets, normalize = _histogram_sets(interval, by)
    aliases = [*rollup_columns, *dimension]
    rolled_qs = usage_for(rolled, {**rollup_columns, **dimension}).filter(status=RunStatus.OK)
    rolled_qs = rolled_qs.annotate(**rollup_columns, **dimension)
    groups: dict[tuple[str, Any], _Histograms] = defaultdict(_Histograms)
    for row in rolled_qs.values(*aliases, "latency_hist", "ttft_hist", "latency_max", "ttft_max"):
        for name, set_aliases in sets:
            key = _set_key(name, row, set_aliases, normalize)
            groups[name, key].add_blobs(row["latency_hist"], row["ttft_hist"], row["latency_max"], row["ttft_max"])
    if live is not None:
        live_qs = runs_for(live).filter(status=RunStatus.OK).annotate(**run_columns, **dimension)
        for row in live_qs.values(*aliases, "latency_ms", "ttft_ms"):
            latency, ttft = row["latency_ms"], row["ttft_ms"]
            for name, set_aliases in sets:
                key = _set_key(name, row, set_aliases, normalize)
                groups[name, key].add_buckets(
                    [] if latency is None else histograms.bucket_of([latency]),
                    [] if ttft is None else histograms.bucket_of([ttft]),
                    latency,
                    ttft,
                )
    return _percentile_sets_of(groups)


SUM_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost")
_ERROR_SQL = f"sub.status = '{RunStatus.ERROR.value}'"
_OK_SQL = f"sub.status = '{RunStatus.OK.value}'"
_EDGES_SQL = "'{" + ",".join(str(e) for e in histograms.LOWER_EDGES) + "}'::int[]"
ROLLUP_AGGREGATES_SQL = ", ".join(
    [
        "SUM(sub.calls) AS t_calls",
        f"SUM(sub.calls) FILTER (WHERE {_ERROR_SQL}) AS t_errors",
        *(f"SUM(sub.{name}) AS t_{name}" for name in SUM_FIELDS),
        *(f"SUM(sub.{m}_sum) AS t_{m}_sum, SUM(sub.{m}_count) AS t_{m}_count" for m in ("latency", "ttft")),
        # Error rows have empty histograms and no maximum: no filter needed.
        *(f"string_agg(sub.{m}_hist, ''::bytea) AS h_{m}, MAX(sub.{m}_max) AS m_{m}" for m in ("latency", "ttft")),
    ]
)
RUN_AGGREGATES_SQL = ", ".join(
    [
        "COUNT(*) AS t_calls",
        f"COUNT(*) FILTER (WHERE {_ERROR_SQL}) AS t_errors",
        *(f"SUM(sub.{name}) AS t_{name}" for name in SUM_FIELDS),
        *(
            f"SUM(sub.{m}_ms) FILTER (WHERE {_OK_SQL}) AS t_{m}_sum, "
            f"COUNT(sub.{m}_ms) FILTER (WHERE {_OK_SQL}) AS t_{m}_count, "
            f"array_agg(width_bucket(sub.{m}_ms, {_EDGES_SQL}) - 1) "
            f"FILTER (WHERE {_OK_SQL} AND sub.{m}_ms IS NOT NULL) AS h_{m}, "
            f"MAX(sub.{m}_ms) FILTER (WHERE {_OK_SQL}) AS m_{m}"
            for m in ("latency", "ttft")
        ),
    ]
)


def _pg_usage_sets(
    rolled: Filters, live: Filters | None, *, interval: str | None, by: str | None, overall: bool
) -> UsageSets:
    """Sums, counts and histograms of every grouping set in two queries (rolled-up days, live days), each
    reading its rows once (``GROUP BY GROUPING SETS``); Python sees one row per group. The overall figures,
    when there are buckets or keys too, are their sum (rather than a third concatenation of every row's
    histogram in the database)."""
    derive_overall = overall and (interval is not None or by is not None)
    rollup_columns, run_columns, dimension, sets, normalize = _histogram_sets(
        interval, by, overall=overall and not derive_overall
    )
    aliases = [*rollup_columns, *dimension]
    key_aliases = list(dimension)
    sums: dict[str, dict[Any, Totals]] = defaultdict(lambda: defaultdict(Totals))
    groups: dict[tuple[str, Any], _Histograms] = defaultdict(_Histograms)
    columns = (
        *aliases,
        "status",
        "calls",
        *SUM_FIELDS,
        *(f"{m}_{part}" for m in ("latency", "ttft") for part in ("sum", "count", "hist", "max")),
    )
    parts = [
        part.annotate(**rollup_columns, **dimension).values(*columns)
        for part in usage_parts(rolled, {**rollup_columns, **dimension}, weekly=interval != "day")
    ]
    rolled_qs = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    live_rows: list[dict[str, Any]] = []
    with transaction.atomic(using=rolled_qs.db):
        _pg_sort_memory(rolled_qs)  # the grouped histograms stay in memory instead of spilling to disk
        rolled_rows = _pg_grouped(rolled_qs, aliases, sets, ROLLUP_AGGREGATES_SQL)
        if live is not None:
            live_qs = runs_for(live).annotate(**run_columns, **dimension)
            live_qs = live_qs.values(*aliases, "status", *SUM_FIELDS, "latency_ms", "ttft_ms")
            live_rows = _pg_grouped(live_qs, aliases, sets, RUN_AGGREGATES_SQL)
    for row in rolled_rows:
        key = _set_key(row["set"], row, key_aliases, normalize)
        sums[row["set"]][key].add(row)
        groups[row["set"], key].add_blobs(row["h_latency"], row["h_ttft"], row["m_latency"], row["m_ttft"])
    if live_rows:
        for row in live_rows:
            key = _set_key(row["set"], row, key_aliases, normalize)
            sums[row["set"]][key].add(row)
            groups[row["set"], key].add_buckets(
                row["h_latency"] or [], row["h_ttft"] or [], row["m_latency"], row["m_ttft"]
            )
    if derive_overall:
        part = "bucket" if interval is not None else "key"
        total, merged = Totals(), _Histograms()
        for key, totals in sums[part].items():
            total.add(totals.__dict__, prefix="")
            merged.add(groups[part, key])
        sums["overall"][None] = total
        groups["overall", None] = merged
    return UsageSets(
        sums={name: dict(per_key) for name, per_key in sums.items()}, percentiles=_percentile_sets_of(groups)
    )


def exact_percentiles(filters: Filters, *, interval: str | None = None, by: str | None = None) -> PercentileSets:
    """Percentiles read from the runs (``percentile_cont`` on PostgreSQL)."""
    result = PercentileSets(method=histograms.EXACT)
    if interval is not None and by is not None:
        result.overall, result.per_bucket, result.per_key = dashboard_percentiles(filters, interval=interval, by=by)
    elif interval is not None:
        raw_group, _, normalize = _bucket_group(interval)
        result.per_bucket = grouped_percentiles(filters, group=raw_group, normalize=normalize)
    elif by is not None:
        result.per_key = grouped_percentiles(filters, group=_dimension_group(by))
    else:
        result.overall = percentiles_for(filters)
    return result


@dataclass
class UsageSets:
    """Totals and percentiles overall (key None, set "overall"), per time bucket ("bucket") and per
    breakdown key ("key")."""

    sums: dict[str, dict[Any, Totals]]
    percentiles: PercentileSets

    def totals(self, name: str) -> dict[Any, Totals]:
        return self.sums.get(name, {})


def usage_sets(
    filters: Filters,
    *,
    through: date | None,
    interval: str | None = None,
    by: str | None = None,
    overall: bool = True,
) -> UsageSets:
    """Totals and percentiles for the requested grouping sets.

    Exact percentiles when the range has no rolled-up day (or buckets are hours, read from Runs anyway);
    histogram percentiles otherwise. Sums come from the rollups for rolled-up days either way."""
    rolled, live = _split(filters, through)
    if rolled is not None and interval != "hour" and connections[Run.objects.db].vendor == "postgresql":
        return _pg_usage_sets(rolled, live, interval=interval, by=by, overall=overall)
    sums: dict[str, dict[Any, Totals]] = {}
    if overall:
        sums["overall"] = {None: total_sums(filters, through=through)}
    if interval is not None:
        raw_group, rollup_group, normalize = _bucket_group(interval)
        sums["bucket"] = grouped_sums(
            filters, raw_group=raw_group, rollup_group=rollup_group, through=through, normalize=normalize
        )
    if by is not None:
        group = _dimension_group(by)
        sums["key"] = grouped_sums(filters, raw_group=group, rollup_group=group, through=through)
    if rolled is None or interval == "hour":
        pcts = exact_percentiles(filters, interval=interval, by=by)
    else:
        pcts = histogram_percentiles(rolled, live, interval=interval, by=by)
    return UsageSets(sums=sums, percentiles=pcts)


# --- summary ------------------------------------------------------------------------------------
def summary(filters: Filters, *, through: date | bool | None = True, usage: UsageSets | None = None) -> Summary:
    if through is True:
        through = rollup_through()
    if usage is None:
        usage = usage_sets(filters, through=through or None)
    return Summary(
        filters=filters,
        totals=usage.totals("overall").get(None) or Totals(),
        percentiles=usage.percentiles.overall,
        percentiles_method=usage.percentiles.method,
    )


# --- time series --------------------------------------------------------------------------------
def _as_date(value: Any) -> Any:
    return value.date() if isinstance(value, datetime) else value


def _as_utc_hour(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    return value


def buckets(filters: Filters, interval: str) -> list[date | datetime]:
    if interval == "hour":
        start = day_start(filters.start)
        return [start + timedelta(hours=h) for h in range(filters.days * 24)]
    if interval == "day":
        return [filters.start + timedelta(days=d) for d in range(filters.days)]
    first = filters.start - timedelta(days=filters.start.weekday())
    return [first + timedelta(weeks=w) for w in range((filters.end - first).days // 7 + 1)]


def _bucket_group(interval: str) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:
    """(Run grouping, rollup grouping or None, key normaliser) for a time bucket."""
    if interval == "hour":
        return {"bucket": TruncHour("created_at", tzinfo=UTC)}, None, _as_utc_hour
    if interval == "day":
        return {"bucket": TruncDate("created_at", tzinfo=UTC)}, {"bucket": F("day")}, _as_date
    if interval == "week":
        return {"bucket": TruncWeek("created_at", tzinfo=UTC)}, {"bucket": TruncWeek("day")}, _as_date
    raise ValueError(f"unknown interval {interval!r}")


def timeseries(
    filters: Filters,
    *,
    interval: str,
    through: date | bool | None = True,
    usage: UsageSets | None = None,
) -> Timeseries:
    if through is True:
        through = rollup_through()
    _bucket_group(interval)  # an unknown interval is refused before any query
    if usage is None:
        usage = usage_sets(filters, through=through or None, interval=interval, overall=False)
    sums, pcts = usage.totals("bucket"), usage.percentiles.per_bucket
    points = [Point(b, sums.get(b) or Totals(), pcts.get(b) or Percentiles()) for b in buckets(filters, interval)]
    return Timeseries(filters=filters, interval=interval, points=points, percentiles_method=usage.percentiles.method)


# --- breakdown ----------------------------------------------------------------------------------
DIMENSION_FIELDS: dict[str, tuple[str, ...]] = {
    "provider": ("provider",),
    "model": ("provider", "model"),
    "prompt": ("prompt_id",),
    "version": ("prompt_version_id",),
    "user": ("user_id",),
    "source": ("source",),
}


def _labels(filters: Filters, by: str, keys: list[Any]) -> dict[Any, tuple[str, str]]:
    """(label, sublabel) per key, with one query at most."""
    from accounts.models import User
    from prompts.models import Prompt, PromptVersion

    labels: dict[Any, tuple[str, str]] = {}
    if by == "provider":
        names = dict(Provider.choices)
        return {k: (names.get(k, k), "") for k in keys}
    if by == "source":
        names = dict(RunSource.choices)
        return {k: (names.get(k, k), "") for k in keys}
    if by == "model":
        display = {
            (p, m): name
            for p, m, name in ModelInfo.objects.for_workspace(filters.workspace_id).values_list(
                "provider", "model_id", "display_name"
            )
        }
        providers = dict(Provider.choices)
        return {k: (display.get(k) or k[1], providers.get(k[0], k[0])) for k in keys}
    ids = [k for k in keys if k is not None]
    if by == "prompt":
        names = dict(Prompt.objects.filter(pk__in=ids).values_list("pk", "name"))
        labels = {k: (names.get(k, f"Prompt {k}"), "") for k in ids}
        labels[None] = (NO_PROMPT, "")
    elif by == "version":
        rows = PromptVersion.objects.filter(pk__in=ids).values_list("pk", "number", "prompt__name")
        found = {pk: (f"v{number}", name) for pk, number, name in rows}
        labels = {k: found.get(k, (f"Version {k}", "")) for k in ids}
        labels[None] = (NO_VERSION, "")
    elif by == "user":
        rows = User.objects.filter(pk__in=ids).values_list("pk", "display_name", "email")
        found = {pk: (name or email.split("@")[0], email) for pk, name, email in rows}
        labels = {k: found.get(k, (f"User {k}", "")) for k in ids}
        labels[None] = (NO_USER, "")
    return labels


def _filter_params(by: str, key: Any) -> dict[str, str]:
    if by == "model":
        return {"provider": key[0], "model": key[1]}
    if key is None:
        return {}
    return {by: str(key)}


def _dimension_group(by: str) -> dict[str, Any]:
    return {f"k{i}": F(name) for i, name in enumerate(DIMENSION_FIELDS[by])}


def breakdown(
    filters: Filters,
    *,
    by: str,
    through: date | bool | None = True,
    usage: UsageSets | None = None,
) -> Breakdown:
    if by not in DIMENSION_FIELDS:
        raise ValueError(f"unknown dimension {by!r}")
    if through is True:
        through = rollup_through()
    if usage is None:
        usage = usage_sets(filters, through=through or None, by=by, overall=False)
    sums, pcts = usage.totals("key"), usage.percentiles.per_key
    keys = [k for k, t in sums.items() if t.calls]
    labels = _labels(filters, by, keys)
    rows = [
        BreakdownRow(
            key=k,
            label=labels.get(k, (str(k), ""))[0],
            sublabel=labels.get(k, (str(k), ""))[1],
            filter_params=_filter_params(by, k),
            totals=sums[k],
            percentiles=pcts.get(k) or Percentiles(),
        )
        for k in keys
    ]
    rows.sort(key=lambda r: (-r.totals.cost, -r.totals.calls, r.label))
    top_cost = max((r.totals.cost for r in rows), default=Decimal(0))
    top_calls = max((r.totals.calls for r in rows), default=0)
    for row in rows:
        row.share = (
            float(row.totals.cost / top_cost) if top_cost else (row.totals.calls / top_calls if top_calls else 0)
        )
    total = Totals()
    for row in rows:
        total.add(row.totals.__dict__, prefix="")
    return Breakdown(filters=filters, by=by, rows=rows, totals=total, percentiles_method=usage.percentiles.method)


# --- everything the dashboard needs, percentiles in one pass ------------------------------------
@dataclass
class Dashboard:
    summary: Summary
    timeseries: Timeseries
    breakdown: Breakdown


def dashboard_percentiles(
    filters: Filters, *, interval: str, by: str
) -> tuple[Percentiles, dict[Any, Percentiles], dict[Any, Percentiles]]:
    """Overall, per-bucket and per-dimension percentiles from ONE read of the runs.

    PostgreSQL: ``GROUP BY GROUPING SETS ((), (bucket), (dimension))`` with ``percentile_cont``; other
    databases: one fetch of the latency columns, interpolated in Python.
    """
    bucket_group, _, normalize = _bucket_group(interval)
    dim_group = _dimension_group(by)
    dim_aliases = list(dim_group)
    qs = runs_for(filters).filter(status=RunStatus.OK).annotate(**bucket_group, **dim_group)
    overall = Percentiles()
    per_bucket: dict[Any, Percentiles] = {}
    per_key: dict[Any, Percentiles] = {}
    if _is_postgres(qs):
        inner = qs.values("bucket", *dim_aliases, "latency_ms", "ttft_ms")
        sql, params = inner.query.sql_with_params()
        aggregates = ", ".join(
            f"percentile_cont({q / 100!r}) WITHIN GROUP (ORDER BY sub.{column}) AS {name}_p{q}"
            for name, column in PERCENTILE_COLUMNS
            for q in FRACTIONS
        )
        keys = ", ".join(f"sub.{a}" for a in dim_aliases)
        query = (
            f"SELECT GROUPING(sub.bucket) AS g_bucket, GROUPING({keys}) AS g_key, sub.bucket, {keys}, {aggregates} "
            f"FROM ({sql}) AS sub GROUP BY GROUPING SETS ((), (sub.bucket), ({keys}))"
        )
        with transaction.atomic(using=qs.db):
            _pg_sort_memory(qs)
            with connections[qs.db].cursor() as cursor:
                cursor.execute(query, params)
                names = [c[0] for c in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            pcts = Percentiles.from_row(row)
            if row["g_bucket"] == 0:
                per_bucket[normalize(row["bucket"])] = pcts
            elif row["g_key"] == 0:
                per_key[_key(row, dim_aliases)] = pcts
            else:
                overall = pcts
        return overall, per_bucket, per_key
    all_values: tuple[list[int], list[int]] = ([], [])
    buckets_values: dict[Any, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    key_values: dict[Any, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for bucket, *keys, latency, ttft in qs.values_list("bucket", *dim_aliases, "latency_ms", "ttft_ms"):
        key = _key(dict(zip(dim_aliases, keys, strict=True)), dim_aliases)
        for target in (all_values, buckets_values[normalize(bucket)], key_values[key]):
            if latency is not None:
                target[0].append(latency)
            if ttft is not None:
                target[1].append(ttft)
    overall = Percentiles.from_values(*all_values)
    per_bucket = {k: Percentiles.from_values(*v) for k, v in buckets_values.items()}
    per_key = {k: Percentiles.from_values(*v) for k, v in key_values.items()}
    return overall, per_bucket, per_key


def dashboard(filters: Filters, *, interval: str, by: str, through: date | bool | None = True) -> Dashboard:
    if through is True:
        through = rollup_through()
    usage = usage_sets(filters, through=through or None, interval=interval, by=by)
    return Dashboard(
        summary=summary(filters, through=through, usage=usage),
        timeseries=timeseries(filters, interval=interval, through=through, usage=usage),
        breakdown=breakdown(filters, by=by, through=through, usage=usage),
    )


# --- prompt usage -------------------------------------------------------------------------------
@dataclass
class VersionUsage:
    version_id: int | None
    number: int | None
    label: str
    totals: Totals
    percentiles: Percentiles
    percentiles_method: str = histograms.EXACT


def prompt_version_usage(filters: Filters, *, prompt: Any) -> list[VersionUsage]:
    """Every version of ``prompt`` (newest first) with its usage in the range, drafts last."""
    from prompts.models import PromptVersion

    scoped = replace(filters, prompt=prompt.pk, version=None)
    through = rollup_through()
    usage = usage_sets(scoped, through=through, by="version", overall=False)
    sums, pcts, method = usage.totals("key"), usage.percentiles.per_key, usage.percentiles.method
    rows = [
        VersionUsage(pk, number, f"v{number}", sums.get(pk) or Totals(), pcts.get(pk) or Percentiles(), method)
        for pk, number in PromptVersion.objects.filter(prompt=prompt).order_by("-number").values_list("pk", "number")
    ]
    if sums.get(None) and sums[None].calls:
        rows.append(VersionUsage(None, None, NO_VERSION, sums[None], pcts.get(None) or Percentiles(), method))
    return rows


# --- months and budgets -------------------------------------------------------------------------
def month_start(day: date) -> date:
    return day.replace(day=1)


def month_estimate(
    filters: Filters, *, now: datetime | None = None, through: date | bool | None = True
) -> MonthEstimate:
    """This month's spend so far (with the filters, ignoring their dates) and a linear projection to month end."""
    now = (now or timezone.now()).astimezone(UTC)
    first = month_start(now.date())
    if through is True:
        through = rollup_through()
    spent = total_sums(filters.with_range(first, now.date()), through=through or None).cost
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    elapsed = max((now - day_start(first)).total_seconds() / 86400, 1 / 24)
    projected = spent * Decimal(days_in_month) / Decimal(repr(elapsed))
    return MonthEstimate(
        month_start=first,
        spent=spent,
        projected=projected.quantize(Decimal("0.000001")),
        days_elapsed=elapsed,
        days_in_month=days_in_month,
    )


def month_spend(*, workspace_id: int, now: datetime | None = None) -> Decimal:
    """The workspace's total spend this month (UTC), every run counted."""
    now = (now or timezone.now()).astimezone(UTC)
    filters = Filters(workspace_id=workspace_id, start=month_start(now.date()), end=now.date())
    return total_sums(filters, through=rollup_through()).cost


@dataclass
class BudgetStatus:
    budget: Budget
    spent: Decimal
    month_start: date

    @property
    def percent(self) -> float:
        limit = self.budget.monthly_limit
        return float(self.spent * 100 / limit) if limit else 0.0

    @property
    def level(self) -> str:
        pct = self.percent
        return "over" if pct >= 100 else "high" if pct >= 80 else "warn" if pct >= 50 else "ok"

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.budget.monthly_limit

    @property
    def stopped(self) -> bool:
        return self.budget.hard_stop and self.exceeded

    @property
    def bar_percent(self) -> float:
        return min(self.percent, 100.0)


def budget_get(*, workspace_id: int) -> Budget | None:
    return Budget.objects.filter(workspace_id=workspace_id).first()


def budget_status(*, workspace_id: int, now: datetime | None = None) -> BudgetStatus | None:
    budget = budget_get(workspace_id=workspace_id)
    if budget is None:
        return None
    now = now or timezone.now()
    return BudgetStatus(
        budget=budget, spent=month_spend(workspace_id=workspace_id, now=now), month_start=month_start(now.date())
    )


def budget_alert_list(*, workspace_id: int, month: date) -> list[BudgetAlert]:
    return list(BudgetAlert.objects.filter(workspace_id=workspace_id, month=month).order_by("threshold"))


def workspace_has_runs(*, workspace_id: int) -> bool:
    return Run.objects.filter(workspace_id=workspace_id).exists()
