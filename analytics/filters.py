"""The analytics question: which workspace, which days, which runs (filters), read from query parameters.

Pages and the API parse the same parameters with ``filters_from_params``:
``from`` / ``to`` (YYYY-MM-DD, both inclusive, UTC days; default the last 30 days), ``provider``,
``model``, ``prompt`` (id), ``version`` (prompt version id), ``user`` (id), ``source`` and ``status``.
Bad values raise a ``ValidationError`` naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from providers.models import Provider, RunSource, RunStatus

DEFAULT_DAYS = 30
MAX_DAYS = 731
MAX_HOURLY_DAYS = 14
INTERVALS = ("hour", "day", "week")
DIMENSIONS = ("provider", "model", "prompt", "version", "user", "source")
STATUSES = (RunStatus.OK.value, RunStatus.ERROR.value)

BAD_DATE = "Use a date like 2026-01-31."
RANGE_REVERSED = "The start date is after the end date."
RANGE_TOO_LONG = f"Choose at most {MAX_DAYS} days."
BAD_ID = "Use a whole number (an id)."
BAD_CHOICE = "Choose one of: {choices}."
HOURLY_TOO_LONG = f"Hourly buckets cover at most {MAX_HOURLY_DAYS} days; choose day or week, or a shorter range."


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    workspace_id: int
    start: date
    end: date
    provider: str = ""
    model: str = ""
    prompt: int | None = None
    version: int | None = None
    user: int | None = None
    source: str = ""
    status: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def with_range(self, start: date, end: date) -> Filters:
        return replace(self, start=start, end=end)

    def run_filters(self) -> dict[str, Any]:
        """Keyword lookups shared by providers.Run and DailyUsage (the same column names)."""
        lookups: dict[str, Any] = {"workspace_id": self.workspace_id}
        if self.provider:
            lookups["provider"] = self.provider
        if self.model:
            lookups["model"] = self.model
        if self.prompt is not None:
            lookups["prompt_id"] = self.prompt
        if self.version is not None:
            lookups["prompt_version_id"] = self.version
        if self.user is not None:
            lookups["user_id"] = self.user
        if self.source:
            lookups["source"] = self.source
        if self.status:
            lookups["status"] = self.status
        return lookups

    def params(self) -> dict[str, str]:
        """Query parameters that reproduce these filters (for links, CSV and the API)."""
        values = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "provider": self.provider,
            "model": self.model,
            "prompt": "" if self.prompt is None else str(self.prompt),
            "version": "" if self.version is None else str(self.version),
            "user": "" if self.user is None else str(self.user),
            "source": self.source,
            "status": self.status,
        }
        return {k: v for k, v in values.items() if v}

    @property
    def narrowed(self) -> bool:
        return any(
            (
                self.provider,
                self.model,
                self.prompt is not None,
                self.version is not None,
                self.user is not None,
                self.source,
                self.status,
            )
        )


def _date(params: Any, name: str, errors: dict[str, list[str]]) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        errors[name] = [BAD_DATE]
        return None


def _id(params: Any, name: str, errors: dict[str, list[str]]) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        errors[name] = [BAD_ID]
        return None
    return int(raw)


def _choice(params: Any, name: str, choices: tuple[str, ...] | list[str], errors: dict[str, list[str]]) -> str:
    raw = (params.get(name) or "").strip()
    if raw and raw not in choices:
        errors[name] = [BAD_CHOICE.format(choices=", ".join(choices))]
        return ""
    return raw


def filters_from_params(params: Any, *, workspace_id: int, default_days: int = DEFAULT_DAYS) -> Filters:
    """Parse and check the query parameters; raises ValidationError({param: [message]})."""
    errors: dict[str, list[str]] = {}
    start = _date(params, "from", errors)
    end = _date(params, "to", errors)
    end = end or today()
    start = start or end - timedelta(days=default_days - 1)
    if "from" not in errors and "to" not in errors:
        if start > end:
            errors["from"] = [RANGE_REVERSED]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["from"] = [RANGE_TOO_LONG]
    model = (params.get("model") or "").strip()[:200]
    filters = Filters(
        workspace_id=workspace_id,
        start=start,
        end=end,
        provider=_choice(params, "provider", Provider.values, errors),
        model=model,
        prompt=_id(params, "prompt", errors),
        version=_id(params, "version", errors),
        user=_id(params, "user", errors),
        source=_choice(params, "source", RunSource.values, errors),
        status=_choice(params, "status", STATUSES, errors),
    )
    if errors:
        raise ValidationError(errors)
    return filters


def interval_from_params(params: Any, filters: Filters) -> str:
    """``interval`` (hour, day or week); when absent, chosen from the length of the range."""
    raw = (params.get("interval") or "").strip()
    if not raw:
        return "hour" if filters.days <= 2 else "day" if filters.days <= 120 else "week"
    if raw not in INTERVALS:
        raise ValidationError({"interval": [BAD_CHOICE.format(choices=", ".join(INTERVALS))]})
    if raw == "hour" and filters.days > MAX_HOURLY_DAYS:
        raise ValidationError({"interval": [HOURLY_TOO_LONG]})
    return raw


def dimension_from_params(params: Any, *, default: str = "model") -> str:
    raw = (params.get("by") or "").strip() or default
    if raw not in DIMENSIONS:
        raise ValidationError({"by": [BAD_CHOICE.format(choices=", ".join(DIMENSIONS))]})
    return raw
