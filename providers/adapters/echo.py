"""The echo provider: returns the rendered prompt as text. No network, no key, zero cost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from providers.adapters.base import Adapter, Clock, estimate_tokens
from providers.types import CompletionRequest, Done, MediaPart, Result, StreamEvent, TextDelta, Usage


def render_text(request: CompletionRequest) -> str:
    lines = []
    for message in request.messages:
        pieces = [part.describe() if isinstance(part, MediaPart) else part.text for part in message.parts]
        lines.append(f"[{message.role}] " + " ".join(p for p in pieces if p))
    return "\n".join(lines)


class EchoAdapter(Adapter):
    provider = "echo"
    label = "Echo"
    wire_modalities = frozenset({"text", "image", "audio", "document"})
    url_kinds = frozenset({"image", "audio", "document"})
    needs_key = False

    def _result(self, request: CompletionRequest, clock: Clock, text: str) -> Result:
        _, warnings = self.prepare_params(request)
        return Result(
            text=text,
            finish_reason="stop",
            usage=Usage(input_tokens=estimate_tokens(request.messages), output_tokens=max(1, len(text) // 4)),
            request_id="",
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms if clock.ttft_ms is not None else clock.latency_ms,
            warnings=warnings,
            usage_estimated=True,
        )

    def complete(self, request: CompletionRequest) -> Result:
        self.check(request)
        clock = Clock()
        return self._result(request, clock, render_text(request))

    async def acomplete(self, request: CompletionRequest) -> Result:
        return self.complete(request)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        self.check(request)
        clock = Clock()
        text = render_text(request)
        for index, line in enumerate(text.split("\n")):
            clock.mark_first()
            yield TextDelta(line if index == 0 else "\n" + line)
        yield Done(self._result(request, clock, text))

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        for event in self.stream(request):
            yield event
