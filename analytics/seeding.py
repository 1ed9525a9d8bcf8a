"""Realistic synthetic Runs for benchmarks and the demo, written fast.

Rows are generated in Python (models and prices from the catalog, log-normal token counts and latencies,
a daily rhythm, a few percent of errors) and written with PostgreSQL's COPY, or with batched
``executemany`` INSERTs on other databases. Neither path goes through ``Model.save()``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from providers.models import ModelInfo, Run, RunSource, RunStatus

BATCH_SIZE = 5000
NO_MODELS = "The model catalog is empty; load it first (migrate loads the shipped catalog)."

COLUMNS = (
    "workspace_id",
    "user_id",
    "prompt_id",
    "prompt_version_id",
    "provider",
    "model",
    "params",
    "input",
    "variables",
    "output",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "usage_estimated",
    "cost",
    "latency_ms",
    "ttft_ms",
    "status",
    "error_kind",
    "error_message",
    "provider_request_id",
    "warnings",
    "source",
    "created_at",
    "finished_at",
)
ERRORS = (
    ("rate_limit", "The provider is rate limiting this key (429). Retry after 20 s."),
    ("timeout", "The provider did not answer within 120 s."),
    ("server", "The provider had a server error (503). Try again."),
    ("auth", "The provider refused the API key (401)."),
)
SOURCES = ((RunSource.ABTEST.value, 0.5), (RunSource.PLAYGROUND.value, 0.3), (RunSource.API.value, 0.2))
# Share of calls per hour of the day (UTC), a working-day rhythm.
HOUR_WEIGHTS = [
    0.3,
    0.2,
    0.2,
    0.2,
    0.3,
    0.5,
    0.8,
    1.2,
    1.8,
    2.2,
    2.4,
    2.3,
    2.0,
    2.2,
    2.4,
    2.3,
    2.1,
    1.8,
    1.4,
    1.1,
    0.9,
    0.7,
    0.5,
    0.4,
]


@dataclass(frozen=True)
class ModelChoice:
    provider: str
    model: str
    price_input: Decimal
    price_output: Decimal
    price_cached: Decimal
    speed: float  # relative latency
    weight: float


def model_choices(*, workspace_id: int, limit: int | None = None) -> list[ModelChoice]:
    rows = list(
        ModelInfo.objects.for_workspace(workspace_id)
        .active()
        .exclude(provider="echo")
        .order_by("provider", "model_id")
        .values_list("provider", "model_id", "price_input", "price_output", "price_cached_input")
    )
    if not rows:
        rows = list(
            ModelInfo.objects.active().values_list(
                "provider", "model_id", "price_input", "price_output", "price_cached_input"
            )
        )
    if not rows:
        raise ValueError(NO_MODELS)
    if limit:
        rows = rows[:limit]
    choices = []
    for index, (provider, model, p_in, p_out, p_cached) in enumerate(rows):
        price = float(p_in or 0) + float(p_out or 0)
        choices.append(
            ModelChoice(
                provider=provider,
                model=model,
                price_input=Decimal(p_in or 0),
                price_output=Decimal(p_out or 0),
                price_cached=Decimal(p_cached if p_cached is not None else p_in or 0),
                speed=0.6 + min(price, 40) / 20,
                # Cheap models are used more; a stable per-model popularity.
                weight=(1 + (index * 7919) % 5) / (1 + price / 5),
            )
        )
    return choices


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def generate(
    *,
    workspace_id: int,
    count: int,
    days: int,
    users: Sequence[int | None],
    versions: Sequence[tuple[int | None, int | None]],
    models: Sequence[ModelChoice],
    seed: int = 0,
    now: datetime | None = None,
) -> Iterator[tuple[Any, ...]]:
    """``count`` run rows (tuples in COLUMNS order) over the last ``days`` days up to ``now``."""
    rng = random.Random(seed)
    now = (now or timezone.now()).astimezone(UTC)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    span_days = max(1, (now - start).days + 1)
    model_weights = [m.weight for m in models]
    hours = list(range(24))
    empty = "{}"
    warnings = "[]"
    sources = [s for s, _ in SOURCES]
    source_weights = [w for _, w in SOURCES]
    for _ in range(count):
        day = rng.randrange(span_days)
        created = start + timedelta(
            days=day,
            hours=rng.choices(hours, HOUR_WEIGHTS)[0],
            seconds=rng.randrange(3600),
            microseconds=rng.randrange(10**6),
        )
        if created > now:
            created = now - timedelta(seconds=rng.randrange(1, 3600))
        choice = rng.choices(models, model_weights)[0]
        user_id = rng.choice(users) if users else None
        prompt_id, version_id = rng.choice(versions) if versions else (None, None)
        source = rng.choices(sources, source_weights)[0]
        failed = rng.random() < 0.035
        input_tokens = int(_lognormal(rng, 900, 0.8)) + 20
        cached = int(input_tokens * rng.choice((0, 0, 0, 0.5, 0.8)))
        streamed = source == RunSource.PLAYGROUND or rng.random() < 0.3
        if failed:
            kind, message = ERRORS[rng.randrange(len(ERRORS))]
            output_tokens = 0
            input_tokens = 0 if kind in ("auth", "rate_limit") else input_tokens
            cached = 0
            cost = Decimal(0)
            latency = int(_lognormal(rng, 120000 if kind == "timeout" else 400, 0.2))
            ttft = None
            status, output, finish = RunStatus.ERROR.value, "", ""
        else:
            kind, message = "", ""
            output_tokens = int(_lognormal(rng, 250, 0.9)) + 1
            cost = (
                Decimal(input_tokens - cached) * choice.price_input
                + Decimal(cached) * choice.price_cached
                + Decimal(output_tokens) * choice.price_output
            ) / Decimal(1_000_000)
            cost = cost.quantize(Decimal("0.00000001"))
            ttft_value = _lognormal(rng, 350 * choice.speed, 0.35)
            latency = int(ttft_value + output_tokens * _lognormal(rng, 12 * choice.speed, 0.3))
            ttft = int(ttft_value) if streamed else None
            status, output, finish = RunStatus.OK.value, "(synthetic)", "stop"
        finished = created + timedelta(milliseconds=latency)
        yield (
            workspace_id,
            user_id,
            prompt_id,
            version_id,
            choice.provider,
            choice.model,
            empty,
            empty,
            empty,
            output,
            finish,
            input_tokens,
            output_tokens,
            cached,
            0,
            0,
            False,
            cost,
            latency,
            ttft,
            status,
            kind,
            message,
            "",
            warnings,
            source,
            created,
            finished,
        )


def _copy_postgres(rows: Iterator[tuple[Any, ...]]) -> int:
    table = Run._meta.db_table
    written = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor
        with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
    return written


def _insert_batches(rows: Iterator[tuple[Any, ...]]) -> int:
    table = connection.ops.quote_name(Run._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    written = 0
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(_adapt(row))
            if len(batch) >= BATCH_SIZE:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def _adapt(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as the database driver takes them (SQLite: text datetimes and decimals)."""
    out = []
    for value in row:
        if isinstance(value, datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, Decimal):
            value = connection.ops.adapt_decimalfield_value(value, 16, 8)
        out.append(value)
    return tuple(out)


def runs_seed(
    *,
    workspace: Any,
    count: int,
    days: int = 60,
    users: Sequence[int | None] | None = None,
    versions: Sequence[tuple[int | None, int | None]] | None = None,
    model_limit: int | None = None,
    seed: int = 0,
    now: datetime | None = None,
) -> int:
    """Insert ``count`` synthetic finished runs into ``workspace``; returns how many were written.

    ``users`` defaults to the workspace's members, ``versions`` to its prompts' versions (plus drafts).
    """
    from accounts.models import Membership
    from prompts.models import PromptVersion

    if users is None:
        users = list(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True)) or [None]
    if versions is None:
        versions = list(PromptVersion.objects.filter(prompt__workspace=workspace).values_list("prompt_id", "pk"))
        versions = [*versions, (None, None)]
    models = model_choices(workspace_id=workspace.pk, limit=model_limit)
    rows = generate(
        workspace_id=workspace.pk,
        count=count,
        days=days,
        users=users,
        versions=versions,
        models=models,
        seed=seed,
        now=now,
    )
    with transaction.atomic():
        written = _copy_postgres(rows) if connection.vendor == "postgresql" else _insert_batches(rows)
    return written
