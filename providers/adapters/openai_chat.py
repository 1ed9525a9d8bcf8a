"""OpenAI chat completions through the official SDK, and any OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai

from providers.adapters.base import (
    IMAGE_MIME_TYPES,
    Adapter,
    Clock,
    client_key,
    estimate_tokens,
    shared_async_client,
    tls_context,
)
from providers.types import (
    CompletionRequest,
    MediaPart,
    Message,
    Result,
    StreamEvent,
    TextPart,
    Usage,
)

# Params passed through as-is; others are dropped with a warning.
OPENAI_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty", "response_format"}
)
UNKNOWN_PARAM = "{name} is not a parameter {provider} takes; it was not sent."
NO_STREAM_USAGE = "The server sent no token usage; the counts are estimates."


class OpenAIAdapter(Adapter):
    provider = "openai"
    label = "OpenAI"
    sdk_module = openai
    sdk_errors = (openai.OpenAIError,)
    wire_modalities = frozenset({"text", "image", "audio", "document"})
    url_kinds = frozenset({"image"})
    mime_types = {
        "image": IMAGE_MIME_TYPES,
        "audio": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3"}),
        "document": frozenset({"application/pdf"}),
    }
    media_roles = frozenset({"user"})
    max_tokens_param = "max_completion_tokens"

    # --- clients ----------------------------------------------------------------------------------
    def _client_kwargs(self, request: CompletionRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "api_key": request.api_key or "unused",
            "timeout": request.timeout,
            "max_retries": request.max_retries,
        }
        if request.base_url:
            kwargs["base_url"] = request.base_url
        return kwargs

    def _client(self, request: CompletionRequest) -> openai.OpenAI:
        http_client = openai.DefaultHttpxClient(verify=tls_context())
        return openai.OpenAI(**self._client_kwargs(request), http_client=http_client)

    def _async_client(self, request: CompletionRequest) -> openai.AsyncOpenAI:
        http_client = openai.DefaultAsyncHttpxClient(verify=tls_context())
        return openai.AsyncOpenAI(**self._client_kwargs(request), http_client=http_client)

    # --- wire format ------------------------------------------------------------------------------
    def to_wire_part(self, part: MediaPart) -> dict[str, Any]:
        if part.kind == "image":
            image: dict[str, Any] = {"url": part.url if part.data is None else part.data_url()}
            if part.detail:
                image["detail"] = part.detail
            return {"type": "image_url", "image_url": image}
        if part.kind == "audio":
            return {"type": "input_audio", "input_audio": {"data": part.b64(), "format": part.audio_format}}
        return {
            "type": "file",
            "file": {"filename": part.filename or "document.pdf", "file_data": part.data_url()},
        }

    def to_wire_message(self, message: Message) -> dict[str, Any]:
        if message.role != "user" or all(isinstance(p, TextPart) for p in message.parts):
            return {"role": message.role, "content": message.text()}
        content = [
            {"type": "text", "text": p.text} if isinstance(p, TextPart) else self.to_wire_part(p) for p in message.parts
        ]
        return {"role": message.role, "content": content}

    def build(self, request: CompletionRequest, *, stream: bool) -> tuple[dict[str, Any], list[str]]:
        params, warnings = self.prepare_params(request)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [self.to_wire_message(m) for m in request.messages],
        }
        for name, value in params.items():
            if name not in OPENAI_PARAMS:
                warnings.append(UNKNOWN_PARAM.format(name=name, provider=self.label))
                continue
            body[self.max_tokens_param if name == "max_tokens" else name] = value
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body, warnings

    # --- results ----------------------------------------------------------------------------------
    @staticmethod
    def usage_from(usage: Any) -> Usage:
        if usage is None:
            return Usage()
        prompt_details = getattr(usage, "prompt_tokens_details", None)
        completion_details = getattr(usage, "completion_tokens_details", None)
        return Usage(
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            cached_tokens=(getattr(prompt_details, "cached_tokens", None) or 0) if prompt_details else 0,
            reasoning_tokens=(getattr(completion_details, "reasoning_tokens", None) or 0) if completion_details else 0,
        )

    def _result(self, response: Any, clock: Clock, warnings: list[str]) -> Result:
        choice = response.choices[0] if response.choices else None
        return Result(
            text=(choice.message.content or "") if choice else "",
            finish_reason=(choice.finish_reason or "") if choice else "",
            usage=self.usage_from(response.usage),
            request_id=getattr(response, "_request_id", None) or "",
            latency_ms=clock.latency_ms,
            ttft_ms=clock.latency_ms,
            warnings=warnings,
        )

    def _stream_state(self) -> dict[str, Any]:
        return {"text": [], "finish": "", "usage": None}

    def _absorb(self, chunk: Any, state: dict[str, Any]) -> str:
        if getattr(chunk, "usage", None):
            state["usage"] = chunk.usage
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason:
            state["finish"] = choice.finish_reason
        delta = choice.delta.content if choice.delta is not None else None
        if delta:
            state["text"].append(delta)
        return delta or ""

    def _final(
        self, request: CompletionRequest, state: dict[str, Any], request_id: str, clock: Clock, warnings: list[str]
    ) -> Result:
        text = "".join(state["text"])
        usage = self.usage_from(state["usage"])
        estimated = state["usage"] is None
        if estimated:
            usage = Usage(
                input_tokens=estimate_tokens(request.messages), output_tokens=max(1, len(text) // 4) if text else 0
            )
            warnings.append(NO_STREAM_USAGE)
        return Result(
            text=text,
            finish_reason=state["finish"],
            usage=usage,
            request_id=request_id,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms,
            warnings=warnings,
            usage_estimated=estimated,
        )

    def check_connection(self, request: CompletionRequest) -> int:
        """List models: proves the key and address work without paying for a completion."""
        clock = Clock()
        with self._client(request) as client:
            try:
                client.models.list()
            except openai.OpenAIError as exc:
                raise self.error(exc, request, clock, []) from exc
        return clock.latency_ms

    # --- calls ------------------------------------------------------------------------------------
    def complete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request, stream=False)
        clock = Clock()
        with self._client(request) as client:
            try:
                response = client.chat.completions.create(**body)
            except openai.OpenAIError as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(response, clock, warnings)

    async def acomplete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request, stream=False)
        clock = Clock()
        async with shared_async_client(
            client_key(self.provider, request), lambda: self._async_client(request)
        ) as client:
            try:
                response = await client.chat.completions.create(**body)
            except openai.OpenAIError as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(response, clock, warnings)

    def _stream_body(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        self.check(request)
        return self.build(request, stream=True)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        return self._run_stream(
            request, lambda: self._client(request), lambda client, body: client.chat.completions.create(**body)
        )

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        return self._arun_stream(
            request,
            lambda: shared_async_client(client_key(self.provider, request), lambda: self._async_client(request)),
            lambda client, body: client.chat.completions.create(**body),
        )


class OpenAICompatibleAdapter(OpenAIAdapter):
    """Any server speaking OpenAI chat completions (vLLM, Ollama, LM Studio, gateways); the key is optional."""

    provider = "openai_compatible"
    label = "OpenAI-compatible server"
    needs_key = False
    max_tokens_param = "max_tokens"
