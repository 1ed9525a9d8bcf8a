"""A covering index for the analytics percentile and live-sum queries on providers.Run (PostgreSQL).

The percentile queries filter on workspace and a created_at range, group by a day/hour or a
dimension and read latency_ms and ttft_ms; with the dimensions and latencies in the index, PostgreSQL
answers them with an index-only scan instead of visiting the heap row by row. Created here (not in providers' model state) because only analytics
reads it; other databases use providers' own (workspace, created_at) index.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEX = "run_analytics_cover_idx"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON providers_run (workspace_id, created_at) "
            "INCLUDE (status, latency_ms, ttft_ms, provider, model, source, user_id, prompt_id, prompt_version_id)"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("providers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
