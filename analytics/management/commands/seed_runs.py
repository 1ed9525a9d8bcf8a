"""``manage.py seed_runs --count N [--workspace ID] [--days D]``: synthetic runs for benchmarks and demos."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from analytics.filters import today
from analytics.seeding import runs_seed
from analytics.services import rollups_refresh

MAX_COUNT = 50_000_000


class Command(BaseCommand):
    help = "Insert N realistic synthetic provider runs (fast: COPY on PostgreSQL), then refresh the daily rollups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="How many runs to add.")
        parser.add_argument("--workspace", type=int, help="Workspace id (default: the oldest workspace).")
        parser.add_argument("--days", type=int, default=60, help="Spread the runs over the last D days (default 60).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--no-rollups", action="store_true", help="Skip refreshing the daily rollups.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["count"]
        days = options["days"]
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT:,}.")
        if not 1 <= days <= 730:
            raise CommandError("--days must be between 1 and 730.")
        if options["workspace"] is not None:
            workspace = Workspace.objects.filter(pk=options["workspace"]).first()
            if workspace is None:
                raise CommandError(f"There is no workspace {options['workspace']}.")
        else:
            workspace = Workspace.objects.order_by("pk").first()
            if workspace is None:
                raise CommandError("There is no workspace yet; create one (or run seed_demo) first.")
        started = time.monotonic()
        try:
            written = runs_seed(workspace=workspace, count=count, days=days, seed=options["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        seeded = time.monotonic() - started
        self.stdout.write(f"Added {written:,} runs to “{workspace.name}” (#{workspace.pk}) in {seeded:.1f} s.")
        if not options["no_rollups"]:
            started = time.monotonic()
            result = rollups_refresh(start=today() - timedelta(days=days))
            self.stdout.write(
                f"Refreshed daily rollups {result.start} .. {result.end}: {result.rows:,} rows in "
                f"{time.monotonic() - started:.1f} s."
            )
