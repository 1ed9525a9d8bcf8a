"""Turning each SDK's exceptions into a ProviderError with a kind and a clear message."""

from __future__ import annotations

import json
import math
from typing import Any

from providers.types import ProviderError

MESSAGES = {
    "auth": "{provider} refused the API key ({status}): check the workspace's credential. {detail}",
    "rate_limit": "{provider} is rate limiting this key ({status}){after}. {detail}",
    "overloaded": "{provider} is overloaded ({status}){after}; try again shortly. {detail}",
    "server": "{provider} had a server error ({status}). {detail}",
    "bad_request": "{provider} rejected the request ({status}). {detail}",
    "timeout": "{provider} did not answer within {timeout:g} s.",
    "connection": "Could not connect to {provider}: {detail}",
}


def retry_after_from(headers: Any) -> float | None:
    """Seconds to wait, from retry-after-ms or retry-after (seconds), if the response said."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return round(seconds, 3)
    return None


def detail_from_body(body: Any) -> str:
    """The provider's own error message out of the usual JSON error shapes."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            text = body.decode(errors="replace") if isinstance(body, bytes) else body
            return text.strip()[:300]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            if isinstance(message, str):
                return message[:300]
            if message is not None:
                return json.dumps(message)[:300]
        if isinstance(body.get("message"), str):
            return str(body["message"])[:300]
        if "detail" in body:
            return json.dumps(body["detail"])[:300]
    return ""


def kind_for_status(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 529:
        return "overloaded"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


def status_error(
    provider: str,
    status: int,
    body: Any,
    headers: Any,
    *,
    request_id: str = "",
    latency_ms: int = 0,
    warnings: list[str] | None = None,
    partial_text: str = "",
) -> ProviderError:
    kind = kind_for_status(status)
    retry_after = retry_after_from(headers)
    after = f"; retry after {retry_after:g} s" if retry_after is not None else ""
    detail = detail_from_body(body)
    if detail and not detail.endswith("."):
        detail += "."
    message = MESSAGES[kind].format(provider=provider, status=status, after=after, detail=detail, timeout=0).strip()
    return ProviderError(
        kind,  # type: ignore[arg-type]
        message,
        status_code=status,
        retry_after=retry_after,
        request_id=request_id,
        latency_ms=latency_ms,
        warnings=warnings,
        partial_text=partial_text,
    )


def timeout_error(
    provider: str, timeout: float, *, latency_ms: int = 0, warnings: list[str] | None = None
) -> ProviderError:
    return ProviderError(
        "timeout",
        MESSAGES["timeout"].format(provider=provider, timeout=timeout),
        latency_ms=latency_ms,
        warnings=warnings,
    )


def connection_error(
    provider: str, exc: BaseException, *, latency_ms: int = 0, warnings: list[str] | None = None
) -> ProviderError:
    cause = exc.__cause__ or exc
    detail = str(cause) or type(cause).__name__
    return ProviderError(
        "connection",
        MESSAGES["connection"].format(provider=provider, detail=detail),
        latency_ms=latency_ms,
        warnings=warnings,
    )
