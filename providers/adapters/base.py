"""The adapter interface and the pieces every adapter shares (part checks, timing, estimates)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from contextlib import AbstractContextManager as ContextManager
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.adapters.errors import sdk_error
from providers.types import (
    Capabilities,
    CompletionRequest,
    Done,
    MediaPart,
    Message,
    ProviderError,
    Result,
    StreamEvent,
    TextDelta,
    TextPart,
    TokenCount,
    UnsupportedPart,
)

UNSUPPORTED_PART = "{where} is {what}, which {model} cannot take (it takes {takes})."
UNSUPPORTED_URL = "{where} is {what} given by URL, which {provider} cannot fetch itself; upload it as an asset instead."
UNSUPPORTED_MIME = "{where} is {what}; {provider} takes {allowed} for this kind of part."
MISSING_KEY = "No API key for {provider}: an admin can add one under Providers > Credentials."
ROLE_NOT_ALLOWED = "{where} has a {kind} part in a {role} message; {provider} takes media only in user messages."

IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


# One TLS context per process for every SDK client. Left to itself each SDK client builds its own,
# reading the CA bundle again (~100-180 ms of CPU per client; Mistral's builds two): a playground call
# paid that on every request and an A/B chunk once per client.
@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context httpx would build by default (system CA paths, SSL_CERT_FILE/SSL_CERT_DIR), once."""
    import httpcore2

    return httpcore2.default_ssl_context()


# Async SDK clients are shared per event loop and configuration, a few calls per client: an httpx
# connection pool walks all its connections on every request and every release (O(connections)), so
# one client carrying 50 concurrent calls spent a third of the CPU in pool bookkeeping. A client
# takes up to CALLS_PER_CLIENT calls at once; the next call opens another client (cheap with the
# shared TLS context) and later calls go to the least busy one.
CALLS_PER_CLIENT = 8


@dataclass
class _SharedClient:
    client: Any
    closer: Callable[[], Any] | None
    in_flight: int = 0


_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], list[_SharedClient]]] = (
    weakref.WeakKeyDictionary()
)


def client_key(provider: str, request: CompletionRequest) -> tuple[Any, ...]:
    """Identifies a client configuration without keeping the plain key in the cache's keys."""
    secret = hashlib.sha256((request.api_key or "").encode()).hexdigest()
    return (provider, secret, request.base_url or "", request.timeout, request.max_retries)


@asynccontextmanager
async def shared_async_client(
    key: tuple[Any, ...], factory: Callable[[], Any], closer: Callable[[Any], Any] | None = None
) -> AsyncIterator[Any]:
    """Yield one of this event loop's clients for ``key`` (the least busy), creating one with ``factory``
    when none exists or all carry CALLS_PER_CLIENT calls. ``closer(client)`` closes it at the end
    (default: the client's own ``close``/``aclose``)."""
    shards = _loop_clients.setdefault(asyncio.get_running_loop(), {}).setdefault(key, [])
    entry = min(shards, key=lambda shard: shard.in_flight, default=None)
    if entry is None or entry.in_flight >= CALLS_PER_CLIENT:
        client = factory()
        entry = _SharedClient(client, (lambda: closer(client)) if closer else None)
        shards.append(entry)
    entry.in_flight += 1
    try:
        yield entry.client
    finally:
        entry.in_flight -= 1


async def close_shared_clients() -> None:
    """Close the running loop's cached clients (call before the loop ends, e.g. at the end of a chunk)."""
    shards = _loop_clients.pop(asyncio.get_running_loop(), {})
    for entry in (entry for entries in shards.values() for entry in entries):
        closer = entry.closer or getattr(entry.client, "close", None) or getattr(entry.client, "aclose", None)
        if closer is None:
            continue
        try:
            result = closer()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            pass


CHARS_PER_TOKEN = 4
MEDIA_TOKEN_ESTIMATE = 85 * 3  # a rough per-part allowance for images, audio and documents


def part_label(part: MediaPart) -> str:
    what = f"an {part.kind}" if part.kind[0] in "aeiou" else f"a {part.kind}"
    return f"{what} ({part.mime_type})" if part.mime_type else what


def estimate_tokens(messages: list[Message]) -> int:
    """A character-based estimate of the prompt's tokens (about 4 characters a token)."""
    chars = 0
    media = 0
    for message in messages:
        for part in message.parts:
            if isinstance(part, TextPart):
                chars += len(part.text)
            else:
                media += 1
    return max(1, chars // CHARS_PER_TOKEN + MEDIA_TOKEN_ESTIMATE * media)


class Clock:
    """Latency and time to first token, in milliseconds from the start of the call."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None

    def mark_first(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    @property
    def latency_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    @property
    def ttft_ms(self) -> int | None:
        return None if self.first is None else int((self.first - self.started) * 1000)


class Adapter:
    """One provider. Subclasses implement the wire format; callers use these methods only."""

    provider: ClassVar[str]
    label: ClassVar[str]
    # What the wire format can carry at all (the catalog narrows it per model).
    wire_modalities: ClassVar[frozenset[str]] = frozenset({"text"})
    # Media kinds the provider fetches from a URL itself.
    url_kinds: ClassVar[frozenset[str]] = frozenset()
    # Sampling parameters the provider refuses; they are dropped with a warning.
    dropped_params: ClassVar[frozenset[str]] = frozenset()
    needs_key: ClassVar[bool] = True
    mime_types: ClassVar[dict[str, frozenset[str]]] = {}
    media_roles: ClassVar[frozenset[str]] = frozenset({"user", "system", "assistant"})

    def capabilities(self, input_modalities: frozenset[str] | None = None) -> Capabilities:
        modalities = self.wire_modalities if input_modalities is None else (self.wire_modalities & input_modalities)
        return Capabilities(
            provider=self.provider,
            input_modalities=frozenset(modalities | {"text"}),
            accepts_media_urls=self.url_kinds,
            dropped_params=self.dropped_params,
            needs_key=self.needs_key,
        )

    # --- checks before any call ------------------------------------------------------------------
    def check(self, request: CompletionRequest) -> None:
        """Refuse, before any network call, a part the model cannot take (naming the part and model)."""
        if self.needs_key and not request.api_key:
            raise ProviderError("auth", MISSING_KEY.format(provider=self.label))
        takes = self.capabilities(request.input_modalities).input_modalities
        for m_index, message in enumerate(request.messages):
            for p_index, part in enumerate(message.parts):
                if not isinstance(part, MediaPart):
                    continue
                where = f"messages[{m_index}].content[{p_index}]"
                if part.kind not in takes:
                    raise UnsupportedPart(
                        UNSUPPORTED_PART.format(
                            where=where,
                            what=part_label(part),
                            model=f"{self.label} model {request.model}",
                            takes=", ".join(sorted(takes)),
                        )
                    )
                if message.role not in self.media_roles:
                    raise UnsupportedPart(
                        ROLE_NOT_ALLOWED.format(where=where, kind=part.kind, role=message.role, provider=self.label)
                    )
                if part.data is None and part.kind not in self.url_kinds:
                    raise UnsupportedPart(
                        UNSUPPORTED_URL.format(where=where, what=part_label(part), provider=self.label)
                    )
                allowed = self.mime_types.get(part.kind)
                if part.data is not None and allowed and part.mime_type not in allowed:
                    raise UnsupportedPart(
                        UNSUPPORTED_MIME.format(
                            where=where, what=part_label(part), provider=self.label, allowed=", ".join(sorted(allowed))
                        )
                    )

    def prepare_params(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        """The params to send and warnings for the ones dropped."""
        params = {k: v for k, v in request.params.items() if v is not None and v != ""}
        warnings = []
        for name in sorted(self.dropped_params & params.keys()):
            params.pop(name)
            warnings.append(f"{self.label} refuses {name}; it was not sent.")
        return params, warnings

    # --- calls -------------------------------------------------------------------------------------
    def complete(self, request: CompletionRequest) -> Result:
        raise NotImplementedError

    # --- streaming through an SDK (the SDK adapters fill in the hooks) ----------------------------
    sdk_errors: ClassVar[tuple[type[Exception], ...]] = ()  # what the SDK raises, mapped by ``error``
    request_id_header: ClassVar[str] = "x-request-id"

    sdk_module: ClassVar[Any] = None  # a Stainless SDK (openai, anthropic): ``error`` maps its exceptions

    def error(
        self, exc: Exception, request: CompletionRequest, clock: Clock, warnings: list[str], partial: str = ""
    ) -> ProviderError:
        """The SDK's exception as a ProviderError a person can act on (``partial``: the text so far)."""
        if self.sdk_module is None:
            raise NotImplementedError
        return sdk_error(
            self.sdk_module,
            self.sdk_errors,
            self.label,
            exc,
            timeout=request.timeout,
            latency_ms=clock.latency_ms,
            warnings=warnings,
            partial=partial,
        )

    def _stream_state(self) -> dict[str, Any]:
        return {"text": [], "finish": "", "usage": None}

    def _stream_body(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        """The checked request as the SDK call's keyword arguments for a stream, and warnings."""
        raise NotImplementedError

    def _absorb(self, event: Any, state: dict[str, Any]) -> str:
        """Fold one stream event into ``state``; the new text, if any."""
        raise NotImplementedError

    def _final(
        self, request: CompletionRequest, state: dict[str, Any], request_id: str, clock: Clock, warnings: list[str]
    ) -> Result:
        raise NotImplementedError

    def _run_stream(
        self,
        request: CompletionRequest,
        client: Callable[[], ContextManager[Any]],
        open_stream: Callable[[Any, dict[str, Any]], Any],
    ) -> Iterator[StreamEvent]:
        """The stream loop: check and build the request, open the stream on ``client()``, yield text deltas
        (timing the first), map SDK errors (with the text so far), always close the stream, then yield
        Done with the result. Nothing runs before the first event is asked for."""
        body, warnings = self._stream_body(request)
        clock = Clock()
        state = self._stream_state()
        with client() as sdk_client:
            try:
                stream = open_stream(sdk_client, body)
            except self.sdk_errors as exc:
                raise self.error(exc, request, clock, warnings) from exc
            request_id = stream.response.headers.get(self.request_id_header, "")
            try:
                for event in stream:
                    delta = self._absorb(event, state)
                    if delta:
                        clock.mark_first()
                        yield TextDelta(delta)
            except self.sdk_errors as exc:
                raise self.error(exc, request, clock, warnings, "".join(state["text"])) from exc
            finally:
                with suppress(Exception):
                    stream.close()
        yield Done(self._final(request, state, request_id, clock, warnings))

    async def _arun_stream(
        self,
        request: CompletionRequest,
        client: Callable[[], AsyncContextManager[Any]],
        open_stream: Callable[[Any, dict[str, Any]], Awaitable[Any]],
    ) -> AsyncIterator[StreamEvent]:
        """``_run_stream`` on the event loop, with an async client and stream."""
        body, warnings = self._stream_body(request)
        clock = Clock()
        state = self._stream_state()
        async with client() as sdk_client:
            try:
                stream = await open_stream(sdk_client, body)
            except self.sdk_errors as exc:
                raise self.error(exc, request, clock, warnings) from exc
            request_id = stream.response.headers.get(self.request_id_header, "")
            try:
                async for event in stream:
                    delta = self._absorb(event, state)
                    if delta:
                        clock.mark_first()
                        yield TextDelta(delta)
            except self.sdk_errors as exc:
                raise self.error(exc, request, clock, warnings, "".join(state["text"])) from exc
            finally:
                with suppress(Exception):
                    await stream.close()
        yield Done(self._final(request, state, request_id, clock, warnings))

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError

    async def acomplete(self, request: CompletionRequest) -> Result:
        raise NotImplementedError

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        result = await self.acomplete(request)
        if result.text:
            yield TextDelta(result.text)
        yield Done(result)

    def check_connection(self, request: CompletionRequest) -> int:
        """Prove the key and address work (a cheap call); returns the latency in ms."""
        if self.needs_key and not request.api_key:
            raise ProviderError("auth", MISSING_KEY.format(provider=self.label))
        return 0

    def count_tokens(self, request: CompletionRequest) -> TokenCount:
        return TokenCount(
            input_tokens=estimate_tokens(request.messages),
            estimated=True,
            note="Estimate from the prompt's length (about 4 characters a token); the provider's count may differ.",
        )
