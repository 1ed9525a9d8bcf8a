"""Number formatting for the A/B test pages (money, percentages, durations, p-values)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None


@register.filter
def usd(value: Any) -> str:
    """$1.23, $0.0042, $0 — enough digits to show small per-call costs."""
    number = _number(value)
    if number is None:
        return "—"
    if number == 0:
        return "$0"
    if abs(number) >= 1:
        return f"${number:,.2f}"
    if abs(number) >= 0.01:
        return f"${number:.4f}"
    return f"${number:.6f}".rstrip("0")


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """0.8123 -> 81.2%."""
    number = _number(value)
    if number is None:
        return "—"
    return f"{number * 100:.{digits}f}%"


@register.filter
def signed_pct(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    return f"{number * 100:+.1f} pts"


@register.filter
def score(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:.3f}"


@register.filter
def pvalue(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if number < 0.001:
        return "< 0.001"
    return f"{number:.3f}"


@register.filter
def ms(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if number >= 10_000:
        return f"{number / 1000:.1f} s"
    return f"{number:,.0f} ms"


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as '45 s', '3 min 5 s', '1 h 2 min'."""
    number = _number(seconds)
    if number is None:
        return "—"
    total = round(number)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def thousands(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:,.0f}"


@register.filter
def evaluator_setting(config: dict[str, Any]) -> str:
    """The one setting that says what an evaluator checks, e.g. a pattern or '10-2000 chars'.

    Done in Python: in a template, ``config.values`` on a dict without that key resolves to
    ``dict.values()`` and prints every setting.
    """
    for key in ("value", "pattern", "rubric", "mode"):
        if config.get(key) not in (None, ""):
            return str(config[key])
    if isinstance(config.get("values"), list):
        return ", ".join(str(v) for v in config["values"])
    if "min_chars" in config or "max_chars" in config:
        low, high = config.get("min_chars"), config.get("max_chars")
        if low is not None and high is not None:
            return f"{low} to {high} characters"
        return f"at least {low} characters" if low is not None else f"at most {high} characters"
    if config.get("max_ms") is not None:
        return f"at most {config['max_ms']:g} ms"
    if config.get("max_usd") is not None:
        return f"at most ${config['max_usd']:g}"
    if config.get("schema") is not None:
        return "JSON schema"
    return ""
