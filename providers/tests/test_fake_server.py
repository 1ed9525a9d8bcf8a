from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from providers.fake_server import FakeProvider


def _post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_fake_server_answers_many_concurrent_requests(fake_provider: FakeProvider) -> None:
    fake_provider.latency_ms = 100
    results: list[int] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        status, _, _ = _post(
            f"{fake_provider.base_url('openai')}/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]},
        )
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 50
    assert fake_provider.request_count == 50


def test_scripted_errors_come_in_order_with_retry_headers(fake_provider: FakeProvider) -> None:
    fake_provider.fail_next(429, retry_after="3", retry_after_ms="10")
    fake_provider.fail_next(529)
    url = f"{fake_provider.base_url('anthropic')}/v1/messages"
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    status, headers, text = _post(url, body)
    assert status == 429
    assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "3"
    assert json.loads(text)["error"]["type"] == "rate_limit_error"
    status, _, text = _post(url, body)
    assert status == 529
    assert json.loads(text)["error"]["type"] == "overloaded_error"
    status, _, _ = _post(url, body)
    assert status == 200


def test_anthropic_stream_frames_carry_event_lines(fake_provider: FakeProvider) -> None:
    url = f"{fake_provider.base_url('anthropic')}/v1/messages"
    status, _, text = _post(
        url, {"model": "m", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    )
    assert status == 200
    events = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start"
    assert "content_block_delta" in events
    assert events[-2:] == ["message_delta", "message_stop"]


def test_mistral_flavour_rejects_stream_options(fake_provider: FakeProvider) -> None:
    url = f"{fake_provider.base_url('mistral')}/v1/chat/completions"
    status, _, _ = _post(url, {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": []})
    assert status == 422


def test_request_log_records_what_was_sent(fake_provider: FakeProvider) -> None:
    _post(
        f"{fake_provider.base_url('openai')}/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "logged"}]},
        {"authorization": "Bearer abc"},
    )
    entry = fake_provider.last("openai")
    assert entry.body["messages"][0]["content"] == "logged"
    assert entry.headers["authorization"] == "Bearer abc"
    assert entry.usage["input"] >= 1
