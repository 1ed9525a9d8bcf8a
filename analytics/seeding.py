"""Realistic synthetic Runs for benchmarks and the demo, written fast.

Runs follow correlated workloads (a user on a few prompt versions, each on a model, from one source),
with catalog prices, log-normal token counts and latencies, a daily rhythm and a few percent of errors.
On PostgreSQL the rows are generated inside the database (``INSERT ... SELECT`` over
``generate_series``: a million rows in about a minute); elsewhere in Python and written with batched
``executemany`` INSERTs. Neither path goes through ``Model.save()``.
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


@dataclass(frozen=True)
class Workload:
    """Who runs what where: real usage is correlated (a user works on a few prompts, each prompt
    version on a model or two), which is also what keeps the daily rollups small."""

    user_id: int | None
    prompt_id: int | None
    version_id: int | None
    model: ModelChoice
    source: str
    weight: float


def workloads(
    *,
    users: Sequence[int | None],
    versions: Sequence[tuple[int | None, int | None]],
    models: Sequence[ModelChoice],
    rng: random.Random,
    size: int = 80,
) -> list[Workload]:
    users = list(users) or [None]
    versions = list(versions) or [(None, None)]
    model_weights = [m.weight for m in models]
    sources = [s for s, _ in SOURCES]
    source_weights = [w for _, w in SOURCES]
    made = []
    for rank in range(size):
        prompt_id, version_id = versions[rank % len(versions)] if rank < len(versions) else rng.choice(versions)
        made.append(
            Workload(
                user_id=users[rank % len(users)] if rank < len(users) else rng.choice(users),
                prompt_id=prompt_id,
                version_id=version_id,
                model=rng.choices(models, model_weights)[0],
                source=rng.choices(sources, source_weights)[0],
                weight=1 / (1 + rank) ** 0.8,  # a few heavy workloads, a long tail
            )
        )
    return made


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
    loads = workloads(users=users, versions=versions, models=models, rng=rng)
    load_weights = [w.weight for w in loads]
    hours = list(range(24))
    empty = "{}"
    warnings = "[]"
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
        load = rng.choices(loads, load_weights)[0]
        choice, user_id, source = load.model, load.user_id, load.source
        prompt_id, version_id = load.prompt_id, load.version_id
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


PG_INSERT = """
WITH slots AS (
    SELECT * FROM unnest(
        %(user)s::bigint[], %(prompt)s::bigint[], %(version)s::bigint[], %(provider)s::text[], %(model)s::text[],
        %(source)s::text[], %(p_in)s::numeric[], %(p_out)s::numeric[], %(p_cached)s::numeric[], %(speed)s::float8[]
    ) WITH ORDINALITY AS w(user_id, prompt_id, version_id, provider, model, source, p_in, p_out, p_cached, speed, slot)
), g AS (
    SELECT 1 + floor(random() * %(slots)s)::int AS slot,
           random() < 0.035 AS failed, floor(random() * 4)::int AS kind, random() AS r_cache, random() AS r_stream,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z1,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z2,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z3,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z4,
           %(start)s::timestamptz + floor(random() * %(days)s) * interval '1 day'
             + (%(hours)s::int[])[1 + floor(random() * %(hour_slots)s)::int] * interval '1 hour'
             + random() * interval '1 hour' AS at
    FROM generate_series(1, %(count)s)
), r AS (
    SELECT g.*, s.*, (20 + floor(900 * exp(0.8 * z1)))::int AS in_tok, (1 + floor(250 * exp(0.9 * z2)))::int AS out_tok,
           350 * s.speed * exp(0.35 * z3) AS ttft_v, 12 * s.speed * exp(0.3 * z4) AS per_tok,
           LEAST(at, %(now)s::timestamptz - random() * interval '1 hour') AS created
    FROM g JOIN slots s USING (slot)
), c AS (
    SELECT r.*,
           floor(in_tok * CASE WHEN r_cache < 0.6 THEN 0 WHEN r_cache < 0.8 THEN 0.5 ELSE 0.8 END)::int AS cached,
           CASE WHEN failed THEN (CASE WHEN kind = 1 THEN 120000 ELSE 400 END) * exp(0.2 * z1)
                ELSE ttft_v + out_tok * per_tok END AS latency
    FROM r
)
INSERT INTO providers_run (%(columns)s)
SELECT %(workspace)s, user_id, prompt_id, version_id, provider, model, '{}', '{}', '{}',
       CASE WHEN failed THEN '' ELSE '(synthetic)' END, CASE WHEN failed THEN '' ELSE 'stop' END,
       CASE WHEN failed AND kind IN (0, 3) THEN 0 ELSE in_tok END,
       CASE WHEN failed THEN 0 ELSE out_tok END,
       CASE WHEN failed THEN 0 ELSE cached END, 0, 0, false,
       CASE WHEN failed THEN 0 ELSE round(((in_tok - cached) * p_in + cached * p_cached + out_tok * p_out) / 1000000, 8) END,
       latency::int,
       CASE WHEN NOT failed AND (source = 'playground' OR r_stream < 0.3) THEN ttft_v::int END,
       CASE WHEN failed THEN 'error' ELSE 'ok' END,
       CASE WHEN failed THEN (%(kinds)s::text[])[kind + 1] ELSE '' END,
       CASE WHEN failed THEN (%(messages)s::text[])[kind + 1] ELSE '' END,
       '', '[]', source, created, created + latency * interval '1 millisecond'
FROM c
"""


def _insert_postgres(
    *, workspace_id: int, count: int, days: int, loads: list[Workload], now: datetime, seed: int
) -> int:
    """Generate the rows inside PostgreSQL (generate_series): no per-row Python, about 10x faster than COPY."""
    total = sum(w.weight for w in loads)
    slots: list[Workload] = []
    for load in loads:  # weights as repeated slots (1,000 in all)
        slots.extend([load] * max(1, round(1000 * load.weight / total)))
    hours = [h for h, w in enumerate(HOUR_WEIGHTS) for _ in range(round(w * 10))]
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    params = {
        "user": [w.user_id for w in slots],
        "prompt": [w.prompt_id for w in slots],
        "version": [w.version_id for w in slots],
        "provider": [w.model.provider for w in slots],
        "model": [w.model.model for w in slots],
        "source": [w.source for w in slots],
        "p_in": [w.model.price_input for w in slots],
        "p_out": [w.model.price_output for w in slots],
        "p_cached": [w.model.price_cached for w in slots],
        "speed": [w.model.speed for w in slots],
        "slots": len(slots),
        "start": start,
        "days": days,
        "hours": hours,
        "hour_slots": len(hours),
        "now": now,
        "workspace": workspace_id,
        "kinds": [k for k, _ in ERRORS],
        "messages": [m for _, m in ERRORS],
    }
    sql = PG_INSERT.replace("%(columns)s", ", ".join(COLUMNS))
    written = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [((seed % 2000) - 1000) / 1000])
        for offset in range(0, count, 250_000):
            cursor.execute(sql, {**params, "count": min(250_000, count - offset)})
            written += cursor.rowcount
    return written


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
    if connection.vendor == "postgresql":
        loads = workloads(users=users, versions=versions, models=models, rng=random.Random(seed))
        with transaction.atomic():
            return _insert_postgres(
                workspace_id=workspace.pk, count=count, days=days, loads=loads, now=now or timezone.now(), seed=seed
            )
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
        return _insert_batches(rows)
