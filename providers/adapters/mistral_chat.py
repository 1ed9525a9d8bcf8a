"""Mistral chat through the official SDK (mistralai 3.x: ``mistralai.client``; retries are explicit)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from mistralai.client import Mistral
from mistralai.client.errors import MistralError, NoResponseError, ResponseValidationError
from mistralai.client.utils import BackoffStrategy, RetryConfig
from mistralai.client.utils.logger import NoOpLogger

from providers.adapters.base import IMAGE_MIME_TYPES, Adapter, Clock, client_key, shared_async_client, tls_context
from providers.adapters.errors import connection_error, status_error, timeout_error
from providers.types import (
    CompletionRequest,
    MediaPart,
    Message,
    ProviderError,
    Result,
    StreamEvent,
    TextPart,
    Usage,
)

MISTRAL_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "presence_penalty", "frequency_penalty", "response_format"}
)
PARAM_NAMES = {"seed": "random_seed"}
UNKNOWN_PARAM = "{name} is not a parameter Mistral takes; it was not sent."
# Mistral's SDK does not retry unless told to; these are the codes worth another try.
RETRY_STATUS_CODES = ["429", "500", "502", "503", "504", "529"]


def retry_config(request: CompletionRequest) -> RetryConfig:
    if request.max_retries <= 0:
        return RetryConfig("none", BackoffStrategy(0, 0, 1, 0), retry_connection_errors=False)
    return RetryConfig(
        "backoff",
        BackoffStrategy(
            initial_interval=request.retry_initial_ms,
            max_interval=max(request.retry_initial_ms, 8_000),
            exponent=2.0,
            max_elapsed_time=request.retry_max_elapsed_ms,
            jitter_ms=max(1, request.retry_initial_ms // 4),
        ),
        retry_connection_errors=True,
        status_codes_override=RETRY_STATUS_CODES,
    )


class MistralAdapter(Adapter):
    provider = "mistral"
    label = "Mistral"
    wire_modalities = frozenset({"text", "image", "audio", "document"})
    url_kinds = frozenset({"image", "document"})
    dropped_params = frozenset()
    mime_types = {
        "image": IMAGE_MIME_TYPES,
        "audio": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3"}),
        "document": frozenset({"application/pdf"}),
    }
    media_roles = frozenset({"user"})

    def _client(self, request: CompletionRequest) -> Mistral:
        """A Mistral SDK client on httpx clients that share the process's TLS context (closed by the caller:
        ``_sync_client`` for calls in this thread, ``_close_async`` for the shared async ones)."""
        kwargs: dict[str, Any] = {
            "api_key": request.api_key,
            "retry_config": retry_config(request),
            "timeout_ms": int(request.timeout * 1000),
            "debug_logger": NoOpLogger(),  # its debug log would print the Authorization header
            "client": httpx2.Client(follow_redirects=True, verify=tls_context()),
            "async_client": httpx2.AsyncClient(follow_redirects=True, verify=tls_context()),
        }
        if request.base_url:
            kwargs["server_url"] = request.base_url
        return Mistral(**kwargs)

    @contextmanager
    def _sync_client(self, request: CompletionRequest) -> Iterator[Mistral]:
        client = self._client(request)
        try:
            yield client
        finally:
            client.sdk_configuration.client.close()  # type: ignore[union-attr]

    @staticmethod
    async def _close_async(client: Mistral) -> None:
        await client.sdk_configuration.async_client.aclose()  # type: ignore[union-attr]
        client.sdk_configuration.client.close()  # type: ignore[union-attr]

    # --- wire format ------------------------------------------------------------------------------
    def to_wire_part(self, part: MediaPart) -> dict[str, Any]:
        if part.kind == "image":
            url = part.url if part.data is None else part.data_url()
            image: Any = {"url": url, "detail": part.detail} if part.detail else url
            return {"type": "image_url", "image_url": image}
        if part.kind == "audio":
            return {"type": "input_audio", "input_audio": part.b64()}
        return {
            "type": "document_url",
            "document_url": part.url if part.data is None else part.data_url(),
            "document_name": part.filename or "document.pdf",
        }

    def to_wire_message(self, message: Message) -> dict[str, Any]:
        if message.role != "user" or all(isinstance(p, TextPart) for p in message.parts):
            return {"role": message.role, "content": message.text()}
        content = [
            {"type": "text", "text": p.text} if isinstance(p, TextPart) else self.to_wire_part(p) for p in message.parts
        ]
        return {"role": message.role, "content": content}

    def build(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        params, warnings = self.prepare_params(request)
        body: dict[str, Any] = {"model": request.model, "messages": [self.to_wire_message(m) for m in request.messages]}
        for name, value in params.items():
            if name not in MISTRAL_PARAMS and name not in PARAM_NAMES:
                warnings.append(UNKNOWN_PARAM.format(name=name))
                continue
            body[PARAM_NAMES.get(name, name)] = value
        return body, warnings

    @staticmethod
    def usage_from(usage: Any) -> Usage:
        if usage is None:
            return Usage()
        extra = getattr(usage, "__pydantic_extra__", None) or {}
        details = extra.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
        return Usage(
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            cached_tokens=int(cached or 0),
        )

    @staticmethod
    def _text(content: Any) -> str:
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        return "".join(getattr(chunk, "text", "") or "" for chunk in content)

    def error(
        self, exc: Exception, request: CompletionRequest, clock: Clock, warnings: list[str], partial: str = ""
    ) -> ProviderError:
        if isinstance(exc, httpx2.TimeoutException):
            return timeout_error(self.label, request.timeout, latency_ms=clock.latency_ms, warnings=warnings)
        if isinstance(exc, (httpx2.TransportError, NoResponseError)):
            return connection_error(self.label, exc, latency_ms=clock.latency_ms, warnings=warnings)
        if isinstance(exc, ResponseValidationError):
            return ProviderError(
                "server", f"{self.label} sent an answer the studio could not read: {exc}", warnings=warnings
            )
        if isinstance(exc, MistralError):
            return status_error(
                self.label,
                exc.status_code,
                exc.body,
                exc.headers,
                request_id=exc.headers.get("x-request-id", "") if exc.headers is not None else "",
                latency_ms=clock.latency_ms,
                warnings=warnings,
                partial_text=partial,
            )
        raise exc

    _errors = (MistralError, NoResponseError, httpx2.TransportError)
    sdk_errors = _errors

    def _result(self, response: Any, clock: Clock, warnings: list[str]) -> Result:
        choice = response.choices[0] if response.choices else None
        return Result(
            text=self._text(choice.message.content) if choice else "",
            finish_reason=str(choice.finish_reason or "") if choice else "",
            usage=self.usage_from(response.usage),
            request_id=response.id or "",
            latency_ms=clock.latency_ms,
            ttft_ms=clock.latency_ms,
            warnings=warnings,
        )

    def _absorb(self, event: Any, state: dict[str, Any]) -> str:
        chunk = event.data
        if chunk.usage is not None:
            state["usage"] = chunk.usage
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason:
            state["finish"] = str(choice.finish_reason)
        delta = self._text(choice.delta.content) if choice.delta is not None else ""
        if delta:
            state["text"].append(delta)
        return delta

    def _final(
        self, request: CompletionRequest, state: dict[str, Any], request_id: str, clock: Clock, warnings: list[str]
    ) -> Result:
        return Result(
            text="".join(state["text"]),
            finish_reason=state["finish"],
            usage=self.usage_from(state["usage"]),
            request_id=request_id,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms,
            warnings=warnings,
        )

    def check_connection(self, request: CompletionRequest) -> int:
        """List models: proves the key and address work without paying for a completion."""
        clock = Clock()
        with self._sync_client(request) as client:
            try:
                client.models.list()
            except (*self._errors, ResponseValidationError) as exc:
                raise self.error(exc, request, clock, []) from exc
        return clock.latency_ms

    # --- calls ------------------------------------------------------------------------------------
    def complete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request)
        clock = Clock()
        with self._sync_client(request) as client:
            try:
                response = client.chat.complete(**body)
            except self._errors as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(response, clock, warnings)

    async def acomplete(self, request: CompletionRequest) -> Result:
        self.check(request)
        body, warnings = self.build(request)
        clock = Clock()
        async with shared_async_client(
            client_key(self.provider, request), lambda: self._client(request), self._close_async
        ) as client:
            try:
                response = await client.chat.complete_async(**body)
            except self._errors as exc:
                raise self.error(exc, request, clock, warnings) from exc
        return self._result(response, clock, warnings)

    def _stream_body(self, request: CompletionRequest) -> tuple[dict[str, Any], list[str]]:
        self.check(request)
        return self.build(request)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        return self._run_stream(
            request, lambda: self._sync_client(request), lambda client, body: client.chat.stream(**body)
        )

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        return self._arun_stream(
            request,
            lambda: shared_async_client(
                client_key(self.provider, request), lambda: self._client(request), self._close_async
            ),
            lambda client, body: client.chat.stream_async(**body),
        )
