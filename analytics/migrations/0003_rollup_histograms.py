"""Latency and TTFT histograms in the daily rollups, and the per-model daily rollups.

Rows made before this migration have no histograms, so they are dropped and the rollup state reset:
until the next refresh (the Celery task, or ``rollups_refresh``) rebuilds them, every day is aggregated
live from the runs (slower, never wrong).
"""

from decimal import Decimal
from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def forget_rollups(apps: Any, schema_editor: Any) -> None:
    apps.get_model("analytics", "DailyUsage").objects.all().delete()
    apps.get_model("analytics", "RollupState").objects.update(through=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("analytics", "0002_run_analytics_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailyusage",
            name="latency_hist",
            field=models.BinaryField(
                default=b"",
                help_text="Latency histogram of successful calls (analytics.histograms: sparse bucket counts).",
            ),
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="latency_max",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="ttft_hist",
            field=models.BinaryField(default=b"", help_text="Time-to-first-token histogram of successful calls."),
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="ttft_max",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="DailyModelUsage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("calls", models.PositiveIntegerField(default=0)),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=8, default=Decimal("0"), max_digits=20)),
                (
                    "latency_sum",
                    models.BigIntegerField(default=0, help_text="Sum of latency (ms) over calls with a latency."),
                ),
                ("latency_count", models.PositiveIntegerField(default=0)),
                ("ttft_sum", models.BigIntegerField(default=0)),
                ("ttft_count", models.PositiveIntegerField(default=0)),
                (
                    "latency_hist",
                    models.BinaryField(
                        default=b"",
                        help_text="Latency histogram of successful calls (analytics.histograms: sparse bucket counts).",
                    ),
                ),
                ("latency_max", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "ttft_hist",
                    models.BinaryField(default=b"", help_text="Time-to-first-token histogram of successful calls."),
                ),
                ("ttft_max", models.PositiveIntegerField(blank=True, null=True)),
                ("day", models.DateField()),
                ("provider", models.CharField(max_length=30)),
                ("model", models.CharField(max_length=200)),
                ("status", models.CharField(max_length=10)),
                (
                    "workspace",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.workspace",
                    ),
                ),
            ],
            options={
                "verbose_name": "daily usage per model",
                "verbose_name_plural": "daily usage per model",
                "indexes": [models.Index(fields=["workspace", "day"], name="dailymodelusage_ws_day_idx")],
            },
        ),
        migrations.RunPython(forget_rollups, migrations.RunPython.noop),
    ]
