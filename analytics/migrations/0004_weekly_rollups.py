"""Weekly rollups: ``DailyUsage`` summed per complete week, for long ranges.

The weeks already complete in the daily rollups are filled here from the daily rows (the same sums; the
histograms added up), so long ranges are fast and right at once; later weeks are made by the refresh.
Self-contained (no app code), so it keeps working when ``analytics.services`` changes.
"""

import struct
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

KEY = ("workspace_id", "provider", "model", "prompt_id", "prompt_version_id", "user_id", "source", "status")
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
ENTRY = struct.Struct("<BI")  # analytics.histograms.ENTRY: bucket index (1 byte), count (4 bytes)


def _add_histogram(into: dict[int, int], blob: Any) -> None:
    for bucket, count in ENTRY.iter_unpack(bytes(blob or b"")):
        into[bucket] = into.get(bucket, 0) + count


def _encode(counts: dict[int, int]) -> bytes:
    return b"".join(ENTRY.pack(bucket, counts[bucket]) for bucket in sorted(counts) if counts[bucket])


def _max(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def fill_complete_weeks(apps: Any, schema_editor: Any) -> None:
    DailyUsage = apps.get_model("analytics", "DailyUsage")
    WeeklyUsage = apps.get_model("analytics", "WeeklyUsage")
    through = apps.get_model("analytics", "RollupState").objects.filter(pk=1).values_list("through", flat=True).first()
    if through is None:
        return
    last_sunday = through - timedelta(days=(through.weekday() + 1) % 7)
    weeks: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in DailyUsage.objects.filter(day__lte=last_sunday).order_by().iterator(chunk_size=2000):
        monday = row.day - timedelta(days=row.day.weekday())
        week = weeks.setdefault(
            (monday, *(getattr(row, k) for k in KEY)),
            {**{name: 0 for name in SUMMED}, "cost": Decimal(0), "latency": {}, "ttft": {}, "maxima": ([], [])},
        )
        for name in SUMMED:
            week[name] += getattr(row, name)
        _add_histogram(week["latency"], row.latency_hist)
        _add_histogram(week["ttft"], row.ttft_hist)
        week["maxima"][0].append(row.latency_max)
        week["maxima"][1].append(row.ttft_max)
    WeeklyUsage.objects.bulk_create(
        (
            WeeklyUsage(
                day=key[0],
                **dict(zip(KEY, key[1:], strict=True)),
                **{name: week[name] for name in SUMMED},
                latency_hist=_encode(week["latency"]),
                latency_max=_max(week["maxima"][0]),
                ttft_hist=_encode(week["ttft"]),
                ttft_max=_max(week["maxima"][1]),
            )
            for key, week in weeks.items()
        ),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("analytics", "0003_rollup_histograms"),
        ("prompts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WeeklyUsage",
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
                ("day", models.DateField(help_text="The Monday of the week.")),
                ("provider", models.CharField(max_length=30)),
                ("model", models.CharField(max_length=200)),
                ("source", models.CharField(max_length=20)),
                ("status", models.CharField(max_length=10)),
                (
                    "prompt",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="prompts.prompt",
                    ),
                ),
                (
                    "prompt_version",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="prompts.promptversion",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
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
                "verbose_name": "weekly usage",
                "verbose_name_plural": "weekly usage",
                "indexes": [models.Index(fields=["workspace", "day"], name="weeklyusage_ws_day_idx")],
            },
        ),
        migrations.RunPython(fill_complete_weeks, migrations.RunPython.noop),
    ]
