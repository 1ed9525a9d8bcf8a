"""Analytics at scale: seed 1,000,000 runs into PostgreSQL, then time the analytics endpoints and page.

Usage (from the project root, PostgreSQL reachable; the database is created if missing):

    .venv/bin/python benchmarks/analytics_scale.py [--count 1000000] [--repeat 40] [--rebuild-rollups]
        [--database-url postgres://postgres@127.0.0.1:5432/studio_bench]

Seeding happens once (the runs stay in the scratch database and are reused by later runs; --reseed
starts over). The rollups (daily, per model and per complete week) are brought up to date before timing
(the Celery task's refresh; after a migration that reset them, or with --rebuild-rollups, every day is
recomputed). Each request goes
through the Django test client (the full middleware stack, session auth, template rendering); the script
prints p50/p95 per request in milliseconds, then PASS (exit 0) if every p95 is under the target, else
FAIL (exit 1). Not part of the test suite: it is slow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/studio_bench"
TARGET_MS = 300.0


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="Spread the runs over the last D days (default: a year).")
    parser.add_argument("--repeat", type=int, default=40, help="Timed requests per endpoint.")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reseed", action="store_true", help="Delete the benchmark workspace's runs first.")
    parser.add_argument(
        "--rebuild-rollups", action="store_true", help="Recompute every day's rollups (default: refresh the last days)."
    )
    args = parser.parse_args()

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("This benchmark needs PostgreSQL (--database-url postgres://...).")
    ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.test_settings")
    os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "4")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import Membership, Role, User, Workspace
    from analytics.models import RollupState
    from analytics.seeding import runs_seed
    from analytics.services import rollups_refresh
    from providers.models import Run

    call_command("migrate", verbosity=0)
    user = User.objects.filter(email="bench@studio.local").first() or User.objects.create_user(
        "bench@studio.local", "bench-password-not-secret", display_name="Bench"
    )
    workspace = Workspace.objects.filter(name="Benchmark", created_by=user).first()
    if workspace is None:
        workspace = Workspace.objects.create(name="Benchmark", created_by=user)
        Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
        for i in range(11):
            other = User.objects.create_user(f"bench-{i}@studio.local", None, display_name=f"Member {i}")
            Membership.objects.create(user=other, workspace=workspace, role=Role.EDITOR)
        from prompts.models import Prompt, PromptVersion

        for p in range(12):
            prompt = Prompt.objects.create(workspace=workspace, name=f"Prompt {p}", slug=f"prompt-{p}", author=user)
            for n in range(1, 1 + (p % 4) + 1):
                PromptVersion.objects.create(
                    prompt=prompt,
                    number=n,
                    content={"messages": [{"role": "user", "content": [{"type": "text", "text": f"v{n}"}]}]},
                    content_hash=f"bench-{p}-{n}",
                )
    if args.reseed:
        Run.objects.filter(workspace=workspace).delete()
    have = Run.objects.filter(workspace=workspace).count()
    if have < args.count:
        missing = args.count - have
        print(f"Seeding {missing:,} runs (workspace #{workspace.pk}) ...", flush=True)
        started = time.monotonic()
        runs_seed(workspace=workspace, count=missing, days=args.days, seed=have)
        seeded = time.monotonic() - started
        started = time.monotonic()
        print(f"  insert: {seeded:.1f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE providers_run")
    if args.rebuild_rollups:
        RollupState.objects.update(through=None)  # the next refresh starts at the first run's day
    started = time.monotonic()
    result = rollups_refresh()
    print(
        f"Rollups {result.start}..{result.end}: {result.rows:,} rows in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    with connection.cursor() as cursor:  # a rebuild leaves dead rows behind: clean the scans' pages now
        cursor.execute("VACUUM ANALYZE analytics_dailyusage")
        cursor.execute("VACUUM ANALYZE analytics_dailymodelusage")
        cursor.execute("VACUUM ANALYZE analytics_weeklyusage")
    total = Run.objects.filter(workspace=workspace).count()
    print(f"Workspace #{workspace.pk} has {total:,} runs; {connection.vendor} {connection.pg_version}.")

    client = Client()
    client.force_login(user)
    ws = workspace.pk
    dashboard = reverse("analytics:dashboard")
    cases = [
        ("summary (30 days)", reverse("api:analytics-summary"), {"workspace": ws}, {}),
        ("summary (90 days)", reverse("api:analytics-summary"), {"workspace": ws, "from": _ago(89)}, {}),
        (
            "summary (all days, model filter)",
            reverse("api:analytics-summary"),
            {"workspace": ws, "from": _ago(args.days - 1), "model": "gpt-4o-mini"},
            {},
        ),
        (
            "summary (all days: every run)",
            reverse("api:analytics-summary"),
            {"workspace": ws, "from": _ago(args.days - 1)},
            {},
        ),
        ("timeseries day (30 days)", reverse("api:analytics-timeseries"), {"workspace": ws, "interval": "day"}, {}),
        (
            "timeseries week (all days)",
            reverse("api:analytics-timeseries"),
            {"workspace": ws, "interval": "week", "from": _ago(args.days - 1)},
            {},
        ),
        (
            "timeseries hour (2 days)",
            reverse("api:analytics-timeseries"),
            {"workspace": ws, "interval": "hour", "from": _ago(1)},
            {},
        ),
        ("breakdown by model (30 days)", reverse("api:analytics-breakdown"), {"workspace": ws, "by": "model"}, {}),
        ("breakdown by user (30 days)", reverse("api:analytics-breakdown"), {"workspace": ws, "by": "user"}, {}),
        ("breakdown by version (30 days)", reverse("api:analytics-breakdown"), {"workspace": ws, "by": "version"}, {}),
        (
            "breakdown by user (all days)",
            reverse("api:analytics-breakdown"),
            {"workspace": ws, "by": "user", "from": _ago(args.days - 1)},
            {},
        ),
        ("dashboard page (30 days)", dashboard, {}, {}),
        ("dashboard page (7 days, provider filter)", dashboard, {"from": _ago(6), "provider": "openai"}, {}),
        (
            "dashboard htmx fragment (90 days, by user)",
            dashboard,
            {"from": _ago(89), "by": "user"},
            {"HTTP_HX_REQUEST": "true"},
        ),
        ("dashboard page (all days, by version)", dashboard, {"from": _ago(args.days - 1), "by": "version"}, {}),
    ]
    print(f"\n{'request':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target p95 < {TARGET_MS:.0f} ms")
    worst = 0.0
    for label, url, params, headers in cases:
        for _ in range(args.warmup):
            response = client.get(url, params, **headers)
            assert response.status_code == 200, (label, response.status_code, response.content[:300])
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url, params, **headers)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        timings.sort()
        p50 = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20, method="inclusive")[18]
        worst = max(worst, p95)
        flag = "" if p95 < TARGET_MS else "  <-- over target"
        method = _percentiles_method(response)
        print(f"{label:<46} {p50:8.1f} {p95:8.1f} {timings[-1]:8.1f}{flag}  [{method}]", flush=True)
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    print(f"\n{verdict}: worst p95 {worst:.1f} ms (target: every p95 under {TARGET_MS:.0f} ms).")
    return 0 if worst < TARGET_MS else 1


def _percentiles_method(response: object) -> str:
    """What the response says about its percentiles (exact, or approximate from the histograms)."""
    content = response.content  # type: ignore[attr-defined]
    if response.get("Content-Type", "").startswith("application/json"):  # type: ignore[attr-defined]
        import json

        return "percentiles " + json.loads(content).get("percentiles_method", "?")
    return "percentiles approximate" if b'data-percentiles-method="approximate"' in content else "percentiles exact"


def _ago(days: int) -> str:
    from datetime import timedelta

    from analytics.filters import today

    return (today() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    raise SystemExit(main())
