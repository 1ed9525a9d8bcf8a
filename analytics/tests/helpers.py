"""Runs with known numbers for analytics tests, and an independent computation of the figures."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.utils import timezone

from analytics.seeding import COLUMNS, _insert_batches
from prompts.models import Prompt, PromptVersion


def insert_runs(rows: list[dict[str, Any]]) -> None:
    """Insert runs with explicit created_at (Run.save would stamp now)."""
    defaults: dict[str, Any] = {
        "user_id": None,
        "prompt_id": None,
        "prompt_version_id": None,
        "params": "{}",
        "input": "{}",
        "variables": "{}",
        "output": "",
        "finish_reason": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "usage_estimated": False,
        "cost": Decimal(0),
        "latency_ms": None,
        "ttft_ms": None,
        "status": "ok",
        "error_kind": "",
        "error_message": "",
        "provider_request_id": "",
        "warnings": "[]",
        "source": "api",
        "finished_at": None,
    }
    tuples = [tuple({**defaults, **row}[c] for c in COLUMNS) for row in rows]
    _insert_batches(iter(tuples))


def make_prompt(workspace: Any, name: str, versions: int) -> tuple[Prompt, list[PromptVersion]]:
    prompt = Prompt.objects.create(workspace=workspace, name=name, slug=name.lower().replace(" ", "-"))
    made = [
        PromptVersion.objects.create(
            prompt=prompt,
            number=n,
            content={"messages": [{"role": "user", "content": [{"type": "text", "text": f"v{n}"}]}]},
            content_hash=f"{name}-{n}",
        )
        for n in range(1, versions + 1)
    ]
    return prompt, made


@dataclass
class Dataset:
    rows: list[dict[str, Any]]
    days: list[date]

    def select(self, **where: Any) -> list[dict[str, Any]]:
        def match(row: dict[str, Any]) -> bool:
            for key, value in where.items():
                if key == "day":
                    if row["created_at"].date() != value:
                        return False
                elif row.get(key) != value:
                    return False
            return True

        return [r for r in self.rows if match(r)]


def known_runs(
    workspace: Any,
    users: list[Any],
    *,
    seed: int = 7,
    per_day: int = 40,
    days: int = 4,
    models: tuple[tuple[str, str], ...] = (
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5"),
        ("mistral", "mistral-small-latest"),
    ),
) -> Dataset:
    """Runs over the last ``days`` days (today included) with random but recorded numbers."""
    rng = random.Random(seed)
    p1, v1 = make_prompt(workspace, "Alpha", 2)
    p2, v2 = make_prompt(workspace, "Beta", 1)
    versions = [(p1.pk, v1[0].pk), (p1.pk, v1[1].pk), (p2.pk, v2[0].pk), (None, None)]
    today = timezone.now().astimezone(UTC).date()
    day_list = [today - timedelta(days=d) for d in range(days - 1, -1, -1)]
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    for day in day_list:
        for _ in range(per_day):
            created = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86400))
            if created > now:
                created = now - timedelta(seconds=rng.randrange(1, 120))
            provider, model = rng.choice(models)
            prompt_id, version_id = rng.choice(versions)
            status = rng.choices(["ok", "error", "running"], [0.8, 0.15, 0.05])[0]
            row = {
                "workspace_id": workspace.pk,
                "user_id": rng.choice(users).pk,
                "prompt_id": prompt_id,
                "prompt_version_id": version_id,
                "provider": provider,
                "model": model,
                "source": rng.choice(["playground", "abtest", "api"]),
                "status": status,
                "created_at": created,
                "input_tokens": rng.randrange(0, 5000),
                "output_tokens": rng.randrange(0, 2000) if status == "ok" else 0,
                "cached_tokens": rng.choice([0, 0, rng.randrange(0, 500)]),
                "reasoning_tokens": rng.choice([0, rng.randrange(0, 300)]),
                "cost": Decimal(rng.randrange(0, 10**7)) / Decimal(10**8) if status == "ok" else Decimal(0),
                "latency_ms": rng.randrange(50, 30000) if status != "running" else None,
                "ttft_ms": rng.choice([None, rng.randrange(20, 3000)]) if status == "ok" else None,
            }
            rows.append(row)
    insert_runs(rows)
    return Dataset(rows=rows, days=day_list)


def expected(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures, computed independently of the app (statistics / numpy on the raw lists)."""
    finished = [r for r in rows if r["status"] in ("ok", "error")]
    ok = [r for r in finished if r["status"] == "ok"]
    latencies = [r["latency_ms"] for r in ok if r["latency_ms"] is not None]
    ttfts = [r["ttft_ms"] for r in ok if r["ttft_ms"] is not None]
    calls = len(finished)
    errors = calls - len(ok)
    cost = sum((r["cost"] for r in finished), Decimal(0))

    def pct(values: list[int], q: float) -> float | None:
        return float(np.percentile(values, q)) if values else None

    return {
        "calls": calls,
        "errors": errors,
        "ok_calls": len(ok),
        "error_rate": errors / calls if calls else None,
        "input_tokens": sum(r["input_tokens"] for r in finished),
        "output_tokens": sum(r["output_tokens"] for r in finished),
        "cached_tokens": sum(r["cached_tokens"] for r in finished),
        "reasoning_tokens": sum(r["reasoning_tokens"] for r in finished),
        "cost": cost,
        "cost_per_1k": cost * 1000 / calls if calls else None,
        "latency_mean": statistics.fmean(latencies) if latencies else None,
        "ttft_mean": statistics.fmean(ttfts) if ttfts else None,
        "latency_p50": pct(latencies, 50),
        "latency_p95": pct(latencies, 95),
        "latency_p99": pct(latencies, 99),
        "ttft_p50": pct(ttfts, 50),
        "ttft_p95": pct(ttfts, 95),
        "ttft_p99": pct(ttfts, 99),
    }
