"""Geometry for server-rendered SVG charts (no JavaScript, no inline styles: CSP-safe).

Each function returns plain dicts/lists that the template draws with <rect>, <polyline> and <text>
(the bars, one or two per bucket, as markup made here: a year of weeks is hundreds of them, too many
for a template loop); colours come from CSS classes. Coordinates are in a fixed viewBox (WIDTH x HEIGHT) that scales with
the card.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

BAR_SVG = '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"{}><title>{}</title></rect>'
ROUNDED = mark_safe(' rx="1.5"')
WIDTH = 720
HEIGHT = 220
LEFT = 56
RIGHT = 12
TOP = 12
BOTTOM = 28
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8


def nice_max(value: float) -> float:
    """The smallest 'nice' number (1, 2, 2.5, 5 x 10^k) >= value."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * 0.9999999:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _fmt(value: float, unit: str) -> str:
    if unit == "$":
        if value == 0:
            return "$0"
        return f"${value:,.2f}" if value < 100 else f"${value:,.0f}"
    if unit == "ms":
        return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def bucket_label(bucket: date | datetime, interval: str) -> str:
    if interval == "hour" and isinstance(bucket, datetime):
        return f"{bucket:%b} {bucket.day} {bucket:%H}:00" if bucket.hour == 0 else f"{bucket:%H}:00"
    return f"{bucket:%b} {bucket.day}"


def bucket_title(bucket: date | datetime, interval: str) -> str:
    if interval == "hour" and isinstance(bucket, datetime):
        return f"{bucket:%a %b} {bucket.day}, {bucket:%H}:00 UTC"
    if interval == "week":
        return f"Week of {bucket:%b} {bucket.day}, {bucket:%Y}"
    return f"{bucket:%a %b} {bucket.day}, {bucket:%Y}"


@dataclass
class Chart:
    title: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_labels: list[dict[str, Any]] = field(default_factory=list)
    bars: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, str]] = field(default_factory=list)
    empty: bool = True

    @property
    def center_x(self) -> float:
        return LEFT + PLOT_W / 2

    @property
    def center_y(self) -> float:
        return TOP + PLOT_H / 2

    @property
    def bars_svg(self) -> SafeString:
        """The bars with their hover titles (escaped), as SVG markup."""
        return format_html_join(
            "",
            BAR_SVG,
            (
                (
                    b["css"],
                    b["x"],
                    b["y"],
                    b["width"],
                    b["height"],
                    "" if b["css"] == "hover-target" else ROUNDED,
                    b["title"],
                )
                for b in self.bars
            ),
        )

    @property
    def element_count(self) -> int:
        return len(self.bars) + len(self.lines)


def _axes(chart: Chart, top: float, labels: Sequence[str]) -> None:
    chart.y_ticks = [
        {"y": round(TOP + PLOT_H - PLOT_H * i / 4, 1), "label": _fmt(top * i / 4, chart.unit)} for i in range(5)
    ]
    n = len(labels)
    step = max(1, math.ceil(n / MAX_X_LABELS))
    slot = PLOT_W / n if n else PLOT_W
    chart.x_labels = [{"x": round(LEFT + slot * (i + 0.5), 1), "label": labels[i]} for i in range(0, n, step)]


def stacked_bars(
    title: str,
    buckets: Sequence[Any],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    unit: str = "",
    label: Callable[[Any], str],
    title_of: Callable[[Any], str],
) -> Chart:
    """Bars per bucket, one segment per series (name, css class, values), bottom to top."""
    chart = Chart(title=title, unit=unit, legend=[{"name": n, "css": c} for n, c, _ in series])
    n = len(buckets)
    totals = [sum(float(values[i]) for _, _, values in series) for i in range(n)]
    top = nice_max(max(totals, default=0))
    _axes(chart, top, [label(b) for b in buckets])
    if not n:
        return chart
    slot = PLOT_W / n
    gap = min(slot * 0.2, 6)
    width = max(slot - gap, 0.6)
    for i, bucket in enumerate(buckets):
        base = float(TOP + PLOT_H)
        parts = []
        for name, css, values in series:
            value = float(values[i])
            if value <= 0:
                continue
            h = PLOT_H * value / top
            base -= h
            parts.append(f"{_fmt(value, unit) if unit else f'{value:,.0f}'} {name.lower()}")
            chart.bars.append(
                {
                    "x": round(LEFT + slot * i + gap / 2, 2),
                    "y": round(base, 2),
                    "width": round(width, 2),
                    "height": round(max(h, 0.5), 2),
                    "css": css,
                    "title": f"{title_of(bucket)}: {_fmt(value, unit) if unit else f'{value:,.0f}'} {name.lower()}",
                }
            )
    chart.empty = not chart.bars
    return chart


def lines(
    title: str,
    buckets: Sequence[Any],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    unit: str = "",
    label: Callable[[Any], str],
    title_of: Callable[[Any], str],
    area: bool = False,
) -> Chart:
    """One polyline per series (name, css class, values); a None value breaks the line."""
    chart = Chart(title=title, unit=unit, legend=[{"name": n, "css": c} for n, c, _ in series])
    n = len(buckets)
    values_all = [float(v) for _, _, values in series for v in values if v is not None]
    top = nice_max(max(values_all, default=0))
    _axes(chart, top, [label(b) for b in buckets])
    if not n or not values_all:
        return chart
    slot = PLOT_W / n
    bottom = TOP + PLOT_H
    for name, css, values in series:
        segment: list[tuple[float, float]] = []
        segments: list[list[tuple[float, float]]] = []
        for i, value in enumerate(values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append((round(LEFT + slot * (i + 0.5), 2), round(bottom - PLOT_H * float(value) / top, 2)))
        if segment:
            segments.append(segment)
        for seg in segments:
            points = " ".join(f"{x},{y}" for x, y in seg)
            line: dict[str, Any] = {"points": points, "css": css, "name": name, "single": len(seg) == 1}
            if len(seg) == 1:
                line["cx"], line["cy"] = seg[0]
            if area and len(seg) > 1:
                line["area"] = f"{seg[0][0]},{bottom} {points} {seg[-1][0]},{bottom}"
            chart.lines.append(line)
        # Hover targets: one invisible-but-titled point per bucket with a value.
        for i, value in enumerate(values):
            if value is not None:
                chart.bars.append(
                    {
                        "x": round(LEFT + slot * i, 2),
                        "y": TOP,
                        "width": round(slot, 2),
                        "height": PLOT_H,
                        "css": "hover-target",
                        "title": f"{title_of(buckets[i])}: {name} {_fmt(float(value), unit) if unit != 'ms' else f'{float(value):,.0f} ms'}",
                    }
                ) if name == series[0][0] else None
    chart.empty = not chart.lines
    return chart


def share_bar(share: float) -> float:
    """Width (0..100, in %) of a breakdown row's bar."""
    return round(max(0.0, min(1.0, share)) * 100, 1)
