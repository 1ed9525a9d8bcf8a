"""Number formatting for the analytics pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()
DASH = "—"


@register.filter
def usd(value: Any, places: int = 2) -> str:
    """$1,234.56; small non-zero amounts keep enough digits to show ($0.0042)."""
    if value is None or value == "":
        return DASH
    amount = Decimal(str(value))
    places = int(places)
    if 0 < abs(amount) < Decimal("0.01") and places <= 2:
        return f"${amount:,.4f}"
    return f"${amount:,.{places}f}"


@register.filter
def ms(value: Any) -> str:
    if value is None or value == "":
        return DASH
    number = float(value)
    if number >= 10_000:
        return f"{number / 1000:,.1f} s"
    return f"{number:,.0f} ms"


@register.filter
def pct(value: Any, places: int = 1) -> str:
    """A fraction (0..1) as a percentage."""
    if value is None or value == "":
        return DASH
    return f"{float(value) * 100:.{int(places)}f}%"


@register.filter
def num(value: Any) -> str:
    if value is None or value == "":
        return DASH
    return f"{int(value):,}"


@register.filter
def compact(value: Any) -> str:
    """1.2M, 34.5k, 999."""
    if value is None or value == "":
        return DASH
    number = float(value)
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{number:,.0f}"
