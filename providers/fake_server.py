"""A local HTTP server that speaks the OpenAI, Anthropic and Mistral chat wire protocols.

Tests and benchmarks point the real SDKs at it (``base_url`` / ``server_url``); nothing is mocked.

Routes (each flavour under its own prefix, so one server plays all three providers)::

    POST /openai/v1/chat/completions      OpenAI chat completions (also /v1/chat/completions)
    POST /anthropic/v1/messages           Anthropic messages (SSE with ``event:`` lines)
    POST /anthropic/v1/messages/count_tokens
    POST /mistral/v1/chat/completions     Mistral chat (rejects ``stream_options`` with 422)

The answer echoes the request: ``"Echo: <user text> [image image/png, 68 bytes]"``. Token usage is
deterministic: input = characters of the text parts // 4 + 85 per media part (at least 1), output =
the number of words in the answer; ``cached_tokens``, ``cache_write_tokens`` and
``reasoning_tokens`` are configurable. ``latency_ms`` delays the first byte; ``chunk_delay_ms``
spaces stream chunks. ``fail_next(status, times=..)`` scripts errors (401, 429 with retry-after /
retry-after-ms, 500, 529) and ``hang_next()`` holds a request open to provoke client timeouts.
Every request is counted and logged (path, headers, JSON body) so tests can assert what an SDK sent.

Run it for benchmarks::

    python -m providers.fake_server --port 9999 --latency-ms 100
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FLAVOURS = ("openai", "anthropic", "mistral")


@dataclass
class ScriptedError:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    hang_seconds: float = 0.0


@dataclass
class LoggedRequest:
    flavour: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 200
    usage: dict[str, int] = field(default_factory=dict)


def _words(text: str) -> list[str]:
    return text.split(" ")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class FakeProvider:
    """The server plus its knobs; start() runs it in a background thread on ``port`` (0 = any free)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        chunk_delay_ms: int = 0,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        api_key: str | None = None,
        keep_log: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.chunk_delay_ms = chunk_delay_ms
        self.cached_tokens = cached_tokens
        self.cache_write_tokens = cache_write_tokens
        self.reasoning_tokens = reasoning_tokens
        self.api_key = api_key  # when set, other keys get a 401
        self.keep_log = keep_log
        self.requests: list[LoggedRequest] = []
        self._script: deque[ScriptedError] = deque()
        self._answers: list[tuple[str, str]] = []  # (text the request contains, the answer to give)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._count = 0
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0  # the most at once since the start (or reset)
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses the SDKs use ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, flavour: str) -> str:
        """The base URL each SDK expects: OpenAI includes /v1, Anthropic and Mistral do not."""
        return {
            "openai": f"{self.url}/openai/v1",
            "openai_compatible": f"{self.url}/v1",
            "anthropic": f"{self.url}/anthropic",
            "mistral": f"{self.url}/mistral",
        }[flavour]

    # --- scripting -------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        retry_after_ms: str | None = "10",
        message: str = "",
    ) -> None:
        """The next ``times`` requests get ``status`` (with retry headers kept small by default)."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        with self._lock:
            for _ in range(times):
                self._script.append(ScriptedError(status=status, headers=headers, message=message))

    def answer_when(self, contains: str, text: str) -> None:
        """Answer ``text`` (instead of the echo) to every request whose text parts contain ``contains``:
        a judge's grade, a model that follows instructions. Usage is counted as for the echo."""
        with self._lock:
            self._answers.append((contains, text))

    def hang_next(self, seconds: float = 5.0, *, times: int = 1) -> None:
        """Hold the next requests open (no bytes) for ``seconds``, so a client timeout fires."""
        with self._lock:
            for _ in range(times):
                self._script.append(ScriptedError(status=0, hang_seconds=seconds))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._answers.clear()
            self.requests.clear()
            self._count = 0
            self.max_in_flight = 0

    @property
    def request_count(self) -> int:
        return self._count

    def last(self, flavour: str | None = None) -> LoggedRequest:
        matching = [r for r in self.requests if flavour is None or r.flavour == flavour]
        return matching[-1]

    # --- internals -------------------------------------------------------------------------------
    def _take_script(self) -> ScriptedError | None:
        with self._lock:
            self._count += 1
            return self._script.popleft() if self._script else None

    def _scripted_answer(self, body: dict[str, Any]) -> str | None:
        if not self._answers:
            return None
        texts = [body.get("system")] + [message.get("content") for message in body.get("messages", [])]
        seen = " ".join(
            str(item.get("text", "")) for content in texts for item in _content_items(content) if isinstance(item, dict)
        )
        with self._lock:
            return next((text for contains, text in self._answers if contains in seen), None)

    def _log(self, entry: LoggedRequest) -> None:
        if self.keep_log:
            with self._lock:
                self.requests.append(entry)

    def next_id(self) -> int:
        return next(self._ids)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


# --- reading requests -----------------------------------------------------------------------------
def _content_items(content: Any) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _describe_openai_part(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "image_url":
        image = part.get("image_url")
        url = image if isinstance(image, str) else (image or {}).get("url", "")
        return _describe_url("image", url)
    if kind == "input_audio":
        audio = part.get("input_audio")
        data = audio if isinstance(audio, str) else (audio or {}).get("data", "")
        fmt = "" if isinstance(audio, str) else (audio or {}).get("format", "")
        return f"[audio {fmt or 'base64'}, {len(data) * 3 // 4} bytes]"
    if kind == "file":
        file = part.get("file") or {}
        return _describe_url("document", file.get("file_data", ""), file.get("filename", ""))
    if kind == "document_url":
        return _describe_url("document", part.get("document_url", ""), part.get("document_name") or "")
    return f"[{kind}]"


def _describe_anthropic_part(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    source = part.get("source") or {}
    if source.get("type") == "base64":
        return f"[{kind} {source.get('media_type', '')}, {len(source.get('data', '')) * 3 // 4} bytes]"
    if source.get("type") == "url":
        return f"[{kind} {source.get('url', '')}]"
    return f"[{kind}]"


def _describe_url(kind: str, url: str, name: str = "") -> str:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        mime = head[5:].split(";")[0]
        label = f" {name}" if name else ""
        return f"[{kind}{label} {mime}, {len(data) * 3 // 4} bytes]"
    return f"[{kind} {url}]"


def _answer_and_input(flavour: str, body: dict[str, Any]) -> tuple[str, int]:
    """The echo answer and the input token count for a request body."""
    describe = _describe_anthropic_part if flavour == "anthropic" else _describe_openai_part
    texts: list[str] = []
    chars = 0
    media = 0
    system = body.get("system")
    for item in _content_items(system):
        chars += len(item.get("text", ""))
    last_user = ""
    for message in body.get("messages", []):
        pieces = []
        for part in _content_items(message.get("content")):
            if part.get("type") == "text":
                chars += len(part.get("text", ""))
            else:
                media += 1
            pieces.append(describe(part))
        if message.get("role") == "user":
            last_user = " ".join(p for p in pieces if p)
        elif message.get("role") == "system":
            pass
        texts.append(" ".join(pieces))
    answer = f"Echo: {last_user}".strip()
    return answer, max(1, chars // 4 + 85 * media)


# --- the handler ----------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    # TCP_NODELAY, as real API servers set it: the head and the body go out in separate writes, and with
    # Nagle's algorithm on, each answer waited for the client's delayed ACK (~40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # routing
    def do_POST(self) -> None:
        self.fake._enter()
        try:
            self._post()
        finally:
            self.fake._leave()

    def _post(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        flavour, route = self._route(path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = LoggedRequest(flavour=flavour or "?", path=path, headers=headers, body=body)
        self.fake._log(entry)
        if flavour is None:
            entry.status = 404
            self._json(404, {"error": {"message": f"No route {path}", "type": "not_found"}})
            return
        scripted = self.fake._take_script()
        if scripted is not None and scripted.hang_seconds:
            self.fake._stop.wait(scripted.hang_seconds)
            scripted = None
        if self.fake.latency_ms:
            time.sleep(self.fake.latency_ms / 1000)
        if scripted is not None:
            entry.status = scripted.status
            self._error(flavour, scripted.status, scripted.message, scripted.headers)
            return
        if self.fake.api_key is not None and not self._authorised(flavour, headers):
            entry.status = 401
            self._error(flavour, 401, "Incorrect API key provided.", {})
            return
        if route == "count_tokens":
            _, input_tokens = _answer_and_input(flavour, body)
            self._json(200, {"input_tokens": input_tokens})
            return
        problem = self._invalid(flavour, body)
        if problem:
            entry.status = problem[0]
            self._error(flavour, problem[0], problem[1], {})
            return
        answer, input_tokens = _answer_and_input(flavour, body)
        answer = self.fake._scripted_answer(body) or answer
        usage = self._usage(input_tokens, answer)
        entry.usage = usage
        if body.get("stream"):
            self._stream(flavour, body, answer, usage)
        else:
            self._complete(flavour, body, answer, usage)

    def do_GET(self) -> None:
        """GET {prefix}/v1/models: the model list each SDK's ``models.list()`` reads (used by "test connection")."""
        path = self.path.split("?")[0].rstrip("/")
        flavour = next(
            (
                f
                for prefix, f in (
                    ("/openai", "openai"),
                    ("/anthropic", "anthropic"),
                    ("/mistral", "mistral"),
                    ("", "openai"),
                )
                if path == f"{prefix}/v1/models"
            ),
            None,
        )
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = LoggedRequest(flavour=flavour or "?", path=path, headers=headers, body={})
        self.fake._log(entry)
        if flavour is None:
            entry.status = 404
            self._json(404, {"error": {"message": f"No route {path}", "type": "not_found"}})
            return
        scripted = self.fake._take_script()
        if scripted is not None and scripted.hang_seconds:
            self.fake._stop.wait(scripted.hang_seconds)
            scripted = None
        if scripted is not None:
            entry.status = scripted.status
            self._error(flavour, scripted.status, scripted.message, scripted.headers)
            return
        if self.fake.api_key is not None and not self._authorised(flavour, headers):
            entry.status = 401
            self._error(flavour, 401, "Incorrect API key provided.", {})
            return
        if flavour == "anthropic":
            item = {"type": "model", "id": "fake-model", "display_name": "Fake", "created_at": "2026-01-01T00:00:00Z"}
            self._json(200, {"data": [item], "has_more": False, "first_id": "fake-model", "last_id": "fake-model"})
        elif flavour == "mistral":
            item = {
                "id": "fake-model",
                "object": "model",
                "type": "base",
                "created": 0,
                "owned_by": "fake",
                "capabilities": {"completion_chat": True},
            }
            self._json(200, {"object": "list", "data": [item]})
        else:
            self._json(
                200,
                {"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}]},
            )

    @staticmethod
    def _route(path: str) -> tuple[str | None, str]:
        for prefix, flavour in (("/openai", "openai"), ("/mistral", "mistral"), ("", "openai")):
            if path == f"{prefix}/v1/chat/completions":
                return flavour, "chat"
        if path == "/anthropic/v1/messages":
            return "anthropic", "messages"
        if path == "/anthropic/v1/messages/count_tokens":
            return "anthropic", "count_tokens"
        return None, ""

    def _authorised(self, flavour: str, headers: dict[str, str]) -> bool:
        expected = f"Bearer {self.fake.api_key}"
        return headers.get("authorization") == expected or headers.get("x-api-key") == self.fake.api_key

    def _invalid(self, flavour: str, body: dict[str, Any]) -> tuple[int, str] | None:
        if not body.get("model"):
            return 400, "model is required"
        if flavour == "anthropic":
            for name in ("temperature", "top_p", "top_k"):
                if name in body:
                    return 400, f"{name}: Extra inputs are not permitted"
            if "max_tokens" not in body:
                return 400, "max_tokens: Field required"
        if flavour == "mistral" and "stream_options" in body:
            return 422, "stream_options: Extra inputs are not permitted"
        return None

    def _usage(self, input_tokens: int, answer: str) -> dict[str, int]:
        fake = self.fake
        cached = min(fake.cached_tokens, input_tokens)
        write = min(fake.cache_write_tokens, max(0, input_tokens - cached))
        return {
            "input": input_tokens,
            "output": len(_words(answer)) + fake.reasoning_tokens,
            "cached": cached,
            "cache_write": write,
            "reasoning": fake.reasoning_tokens,
        }

    # writing
    def _send_head(self, status: int, content_type: str, extra: dict[str, str], length: int | None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        request_id = f"req_fake_{self.fake.next_id()}"
        self.send_header("x-request-id", request_id)
        self.send_header("request-id", request_id)
        for key, value in extra.items():
            self.send_header(key, value)
        if length is None:
            self.send_header("transfer-encoding", "chunked")
            self.send_header("cache-control", "no-cache")
        else:
            self.send_header("content-length", str(length))
        self.end_headers()

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._send_head(status, "application/json", headers or {}, len(data))
        self.wfile.write(data)

    def _error(self, flavour: str, status: int, message: str, headers: dict[str, str]) -> None:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            422: "invalid_request_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        kind = kinds.get(status, "api_error")
        message = message or {
            401: "Invalid API key.",
            429: "Rate limit reached; slow down.",
            500: "The server had an error while processing your request.",
            529: "Overloaded.",
        }.get(status, f"Error {status}.")
        if flavour == "anthropic":
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        elif flavour == "mistral":
            payload = {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}
        else:
            payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        # Errors are final unless scripted otherwise; 401 and 400 must not be retried by the SDKs.
        self._json(status, payload, headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _pause(self) -> None:
        if self.fake.chunk_delay_ms:
            time.sleep(self.fake.chunk_delay_ms / 1000)

    def _complete(self, flavour: str, body: dict[str, Any], answer: str, usage: dict[str, int]) -> None:
        model = body["model"]
        if flavour == "anthropic":
            self._json(
                200,
                {
                    "id": f"msg_fake_{self.fake.next_id()}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": answer}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": _anthropic_usage(usage),
                },
            )
            return
        self._json(
            200,
            {
                "id": f"chatcmpl-fake-{self.fake.next_id()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": _openai_usage(usage, reasoning=flavour == "openai"),
            },
        )

    def _stream(self, flavour: str, body: dict[str, Any], answer: str, usage: dict[str, int]) -> None:
        self._send_head(200, "text/event-stream", {}, None)
        words = _words(answer)
        pieces = [w if i == 0 else f" {w}" for i, w in enumerate(words)]
        try:
            if flavour == "anthropic":
                self._stream_anthropic(body, pieces, usage)
            else:
                self._stream_openai(flavour, body, pieces, usage)
            self._end_chunks()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _stream_openai(self, flavour: str, body: dict[str, Any], pieces: list[str], usage: dict[str, int]) -> None:
        base = {
            "id": f"chatcmpl-fake-{self.fake.next_id()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }

        def send(payload: dict[str, Any]) -> None:
            self._chunk(f"data: {json.dumps({**base, **payload})}\n\n".encode())

        send({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for piece in pieces:
            self._pause()
            send({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        final: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if flavour == "mistral":
            final["usage"] = _openai_usage(usage, reasoning=False)  # Mistral: usage on the last chunk
        send(final)
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if flavour == "openai" and include_usage:
            send({"choices": [], "usage": _openai_usage(usage, reasoning=True)})
        self._chunk(b"data: [DONE]\n\n")

    def _stream_anthropic(self, body: dict[str, Any], pieces: list[str], usage: dict[str, int]) -> None:
        def send(event: str, payload: dict[str, Any]) -> None:
            self._chunk(f"event: {event}\ndata: {json.dumps({'type': event, **payload})}\n\n".encode())

        start_usage = _anthropic_usage(usage)
        start_usage["output_tokens"] = 1
        send(
            "message_start",
            {
                "message": {
                    "id": f"msg_fake_{self.fake.next_id()}",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                }
            },
        )
        send("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        self._chunk(b'event: ping\ndata: {"type": "ping"}\n\n')
        for piece in pieces:
            self._pause()
            send("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        send("content_block_stop", {"index": 0})
        send(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": usage["output"]}},
        )
        send("message_stop", {})


def _openai_usage(usage: dict[str, int], *, reasoning: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "prompt_tokens": usage["input"],
        "completion_tokens": usage["output"],
        "total_tokens": usage["input"] + usage["output"],
        "prompt_tokens_details": {"cached_tokens": usage["cached"]},
    }
    if reasoning:
        result["completion_tokens_details"] = {"reasoning_tokens": usage["reasoning"]}
    return result


def _anthropic_usage(usage: dict[str, int]) -> dict[str, int]:
    """Anthropic splits input: uncached input + cache writes + cache reads = the whole prompt."""
    return {
        "input_tokens": max(0, usage["input"] - usage["cached"] - usage["cache_write"]),
        "output_tokens": usage["output"],
        "cache_creation_input_tokens": usage["cache_write"],
        "cache_read_input_tokens": usage["cached"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic/Mistral server for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before the first byte of each answer")
    parser.add_argument("--chunk-delay-ms", type=int, default=0, help="delay between stream chunks")
    parser.add_argument("--cached-tokens", type=int, default=0)
    parser.add_argument("--reasoning-tokens", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeProvider(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        chunk_delay_ms=args.chunk_delay_ms,
        cached_tokens=args.cached_tokens,
        reasoning_tokens=args.reasoning_tokens,
        keep_log=False,
    ).start()
    print(f"Fake provider listening on {fake.url}")
    for flavour in ("openai", "anthropic", "mistral", "openai_compatible"):
        print(f"  {flavour:18} {fake.base_url(flavour)}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
