"""Provider-neutral request, result and error types shared by every adapter.

Adapters take a :class:`CompletionRequest` whose messages are already resolved: media parts carry
their bytes (from an uploaded Asset) or a URL. They return a :class:`Result` or, when streaming, yield
:class:`TextDelta` events followed by one :class:`Done`. Every failure is a :class:`ProviderError`
with an error ``kind`` the pages and the API can explain.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
MediaKind = Literal["image", "audio", "document"]

PROVIDERS = ("openai", "anthropic", "mistral", "openai_compatible", "echo")
PROVIDER_LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "mistral": "Mistral",
    "openai_compatible": "OpenAI-compatible",
    "echo": "Echo (no network)",
}


@dataclass(frozen=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class MediaPart:
    """An image, audio clip or document, either as bytes or as a URL the provider fetches itself."""

    kind: MediaKind
    mime_type: str = ""
    data: bytes | None = None
    url: str | None = None
    filename: str = ""
    detail: str | None = None
    asset_id: str | None = None

    @property
    def type(self) -> str:
        return self.kind

    def b64(self) -> str:
        if self.data is None:
            raise ValueError("This media part has no bytes.")
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{self.b64()}"

    def describe(self) -> str:
        if self.data is not None:
            return f"[{self.kind} {self.mime_type or 'unknown type'}, {len(self.data)} bytes]"
        return f"[{self.kind} {self.url}]"

    @property
    def audio_format(self) -> str:
        """The short format name the audio wire formats want (wav, mp3, ...)."""
        subtype = self.mime_type.split("/")[-1].lower()
        return {"mpeg": "mp3", "x-wav": "wav", "wave": "wav", "vnd.wave": "wav"}.get(subtype, subtype)


Part = TextPart | MediaPart


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass
class CompletionRequest:
    model: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 120.0
    max_retries: int = 2
    # Backoff for adapters that retry themselves (Mistral): first wait and upper bound, in ms.
    retry_initial_ms: int = 500
    retry_max_elapsed_ms: int = 30_000
    # Input modalities the catalog says the model takes; None means "don't check".
    input_modalities: frozenset[str] | None = None

    def __repr__(self) -> str:  # never show the key in tracebacks or logs
        return f"CompletionRequest(model={self.model!r}, messages={len(self.messages)}, params={self.params!r})"


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Result:
    text: str
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    request_id: str = ""
    latency_ms: int = 0
    ttft_ms: int | None = None
    warnings: list[str] = field(default_factory=list)
    usage_estimated: bool = False


@dataclass(frozen=True)
class TextDelta:
    text: str
    type: Literal["delta"] = "delta"


@dataclass(frozen=True)
class Done:
    result: Result
    type: Literal["done"] = "done"


StreamEvent = TextDelta | Done


@dataclass(frozen=True)
class TokenCount:
    input_tokens: int
    estimated: bool
    note: str = ""


@dataclass(frozen=True)
class Capabilities:
    provider: str
    input_modalities: frozenset[str]
    accepts_media_urls: frozenset[str]
    streaming: bool = True
    dropped_params: frozenset[str] = frozenset()
    needs_key: bool = True


ErrorKind = Literal[
    "auth",
    "rate_limit",
    "server",
    "overloaded",
    "timeout",
    "connection",
    "bad_request",
    "unsupported_input",
    "cancelled",
]
RETRYABLE_KINDS = frozenset({"rate_limit", "server", "overloaded", "timeout", "connection"})


class ProviderError(Exception):
    """A provider call that failed, with a kind and a message a person can act on."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        request_id: str = "",
        latency_ms: int = 0,
        partial_text: str = "",
        warnings: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.request_id = request_id
        self.latency_ms = latency_ms
        self.partial_text = partial_text
        self.warnings = list(warnings or [])

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "status_code": self.status_code,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
        }


class UnsupportedPart(ProviderError):
    """A message part the chosen model cannot take, refused before any call."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported_input", message)
