"""Template filters for the provider pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def price(value: Any) -> str:
    """A per-1M-token price with at least 2 decimals and no trailing zeros beyond: 2 -> 2.00, 0.075 -> 0.075."""
    if value is None or value == "":
        return "—"
    number = Decimal(value).normalize()
    places = max(2, -number.as_tuple().exponent) if isinstance(number.as_tuple().exponent, int) else 2
    return f"{number:.{places}f}"
