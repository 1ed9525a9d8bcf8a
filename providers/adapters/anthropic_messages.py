"""Anthropic messages through the official SDK (2.14: Bearer auth; temperature/top_p/top_k refused)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic

from providers.adapters.base import IMAGE_MIME_TYPES, Adapter, Clock, client_key, shared_async_client, tls_context
from providers.types import (
    CompletionRequest,
    MediaPart,
    Message,
    Result,
    StreamEvent,
    TextPart,
    TokenCount,
    Usage,
)

DEFAULT_MAX_TOKENS = 1024
ANTHROPIC_PARAMS = frozenset({"max_tokens", "stop"})
UNKNOWN_PARAM = "{name} is not a parameter Anthropic takes; it was not sent."


class AnthropicAdapter(Adapter):
    provider = "anthropic"
    label = "Anthropic"
    sdk_module = anthropic
    sdk_errors = (anthropic.AnthropicError,)
    request_id_header = "request-id"
    wire_modalities = frozenset({"text", "image", "document"})
    url_kinds = frozenset({"image", "document"})
    dropped_params = frozenset({"temperature", "top_p", "top_k"})
    mime_types = {"image": IMAGE_MIME_TYPES, "document": frozenset({"application/pdf"})}
    media_roles = frozenset({"user"})

    def _client_kwargs(self, request: CompletionRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "api_key": request.api_key,
            "timeout": request.timeout,
            "max_retries": request.max_retries,
        }
        if request.base_url:
            kwargs["base_url"] = request.base_url
        return kwargs

    def _client(self, request: CompletionRequest) -> anthropic.Anthropic:
        http_client = anthropic.DefaultHttpxClient(verify=tls_context())
        return anthropic.Anthropic(**self._client_kwargs(request), http_client=http_client)

    def _async_client(self, request: CompletionRequest) -> anthropic.AsyncAnthropic:
        http_client = anthropic.DefaultAsyncHttpxClient(verify=tls_context())
        return anthropic.AsyncAnthropic(**self._client_kwargs(request), http_client=http_client)

    # --- wire format ------------------------------------------------------------------------------
    def to_wire_part(self, part: MediaPart) -> dict[str, Any]:
        block_type = "image" if part.kind == "image" else "document"
        if part.data is None:
            return {"type": block_type, "source": {"type": "url", "url": part.url}}
        return {"type": block_type, "source": {"type": "base64", "media_type": part.mime_type, "data": part.b64()}}

    def to_wire_message(self, message: Message) -> dict[str, Any]:
        content = [
            {"type": "text", "text": p.text} if isinstance(p, TextPart) else self.to_wire_part(p) for p in message.parts
        ]
        content = [c for c in content if c.get("type") != "text" or c["text"]]
        return {"role": message.role, "content": content or [{"type": "text", "text": " "}]}

    def build(self, request: CompletionRequest, *, stream: bool) -> tuple[dict[str, Any], list[str]]:
        params, warnings = self.prepare_params(request)
        system = "\n\n".join(m.text() for m in request.messages if m.role == "system" and m.text())
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [self.to_wire_message(m) for m in request.messages if m.role != "system"],
            "max_tokens": int(params.pop("max_tokens", DEFAULT_MAX_TOKENS)),
        }
        if system:
            body["system"] = system
        for name, value in params.items():
            if name == "stop":
                body["stop_sequences"] = [value] if isinstance(value, str) else list(value)
            else:
                warnings.append(UNKNOWN_PARAM.format(name=name))
        if stream:
            body["stream"] = True
        return body, warnings

    @staticmethod
    def usage_from(usage: Any) -> Usage:
        """Anthropic reports uncached input, cache writes and cache reads apart; input is their sum."""
        if usage is None:
            return Usage()
        uncached = usage.input_tokens or 0
        write = getattr(usage, "cache_creation_input_tokens", None) or 0
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        return Usage(
            input_tokens=uncached + write + read,
            output_tokens=usage.output_tokens or 0,
            cached_tokens=read,
            cache_write_tokens=write,
        )

    def _result(self, message: Any, clock: Clock, warnings: list[str]) -> Result:
        text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
        return Result(
            text=text,
            finish_reason=message.stop_reason or "",
            usage=self.usage_from(message.usage),
            request_id=getattr(message, "_request_id", None) or "",
            latency_ms=clock.latency_ms,
            ttft_ms=clock.latency_ms,
            warnings=warnings,
        )

    @staticmethod
    def _absorb(event: Any, state: dict[str, Any]) -> str:
        kind = event.type
        if kind == "message_start":
            state["usage"] = event.message.usage
        elif kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
            state["text"].append(event.delta.text)
            return str(event.delta.text)
        elif kind == "message_delta":
            state["finish"] = event.delta.stop_reason or state["finish"]
            if event.usage is not None and event.usage.output_tokens is not None:
                state["output"] = event.usage.output_tokens
        return ""

    def _stream_state(self) -> dict[str, Any]:
        return {"text": [], "finish": "", "usage": None, "output": None}

    def _final(
        self, request: CompletionRequest, state: dict[str, Any], request_id: str, clock: Clock, warnings: list[str]
    ) -> Result:
        usage = self.usage_from(state["usage"])
        if state["output"] is not None:
            usage.output_tokens = state["output"]
        return Result(
            text="".join(state["text"]),
            finish_reason=state["finish"],
            usage=usage,
            request_id=request_id,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms,
            warnings=warnings,
        )

    def check_connection(self, request: CompletionRequest) -> int:
        """List models: proves the key and address work without paying for a completion."""
        clock = Clock()
        with self._client(request) as client:
            try:
                client.models.list(limit=1)
            except anthropic.AnthropicError as exc:
                raise self.error(exc, request, clock, []) from exc
        return clock.latency_ms

    # --- calls ------------------------------------------------------------------------------------
    def complete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request, stream=False)
        clock = Clock()
        with self._client(request) as client:
            try:
                message = client.messages.create(**body)
            except anthropic.AnthropicError as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(message, clock, warnings)

    async def acomplete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request, stream=False)
        clock = Clock()
        async with shared_async_client(
            client_key(self.provider, request), lambda: self._async_client(request)
        ) as client:
            try:
                message = await client.messages.create(**body)
            except anthropic.AnthropicError as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(message, clock, warnings)

    def _stream_body(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        self.check(request)
        return self.build(request, stream=True)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        return self._run_stream(
            request, lambda: self._client(request), lambda client, body: client.messages.create(**body)
        )

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        return self._arun_stream(
            request,
            lambda: shared_async_client(client_key(self.provider, request), lambda: self._async_client(request)),
            lambda client, body: client.messages.create(**body),
        )

    def count_tokens(self, request: CompletionRequest) -> TokenCount:
        """Anthropic counts tokens server-side (an API call); falls back to the estimate without a key."""
        if not request.api_key:
            return super().count_tokens(request)
        self.check(request)
        body, _ = self.build(request, stream=False)
        body.pop("max_tokens", None)
        clock = Clock()
        with self._client(request) as client:
            try:
                counted = client.messages.count_tokens(**body)
            except anthropic.AnthropicError as exc:
                raise self.error(exc, request, clock, []) from exc
        return TokenCount(input_tokens=counted.input_tokens, estimated=False, note="Counted by Anthropic.")
