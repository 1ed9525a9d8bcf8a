"""Every provider through its real SDK against the fake server: text, media, streaming, errors.

Each call goes through the service layer and leaves a Run whose tokens match what the server
reported and whose cost equals tokens x catalog prices (computed independently in helpers).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from providers import services
from providers.adapters.base import UNSUPPORTED_PART
from providers.fake_server import FakeProvider
from providers.models import ModelInfo, Run
from providers.services import Target
from providers.tests.conftest import TEST_KEY, add_credential
from providers.tests.helpers import MODELS, expected_cost, make_asset, png_bytes, rendered, wav_bytes

NETWORKED = ["openai", "anthropic", "mistral", "openai_compatible"]


@pytest.fixture
def setup(team: Any, providers_on_fake: FakeProvider) -> Any:
    fake = providers_on_fake
    fake.cached_tokens = 5
    fake.cache_write_tokens = 3
    fake.reasoning_tokens = 2
    for provider in NETWORKED:
        add_credential(team.workspace, provider, fake)
    services.custom_model_create(
        workspace=team.workspace,
        model_id="local-llama",
        input_modalities=["text", "image"],
        price_input=Decimal("0.2"),
        price_output=Decimal("0.8"),
        price_cached_input=Decimal("0.1"),
    )
    return team


def _extra_model(provider: str, model_id: str, modalities: list[str]) -> None:
    ModelInfo.objects.create(
        provider=provider,
        model_id=model_id,
        display_name=model_id,
        input_modalities=modalities,
        price_input=Decimal("1.5"),
        price_cached_input=Decimal("0.5") if provider != "mistral" else None,
        price_output=Decimal("6"),
    )


def _run(team: Any, provider: str, data: dict[str, Any], model: str | None = None, **params: Any) -> Run:
    return services.run_execute(
        workspace=team.workspace,
        user=team.editor,
        rendered=data,
        target=Target(provider=provider, model=model or MODELS[provider], params=params),
    )


def _assert_tokens_match_server(run: Run, fake: FakeProvider) -> None:
    usage = [r for r in fake.requests if r.usage][-1].usage
    assert run.input_tokens == usage["input"]
    assert run.output_tokens == usage["output"]
    assert run.cached_tokens == usage["cached"]
    if run.provider == "anthropic":
        assert run.cache_write_tokens == usage["cache_write"]
    if run.provider in ("openai", "openai_compatible"):
        assert run.reasoning_tokens == usage["reasoning"]


@pytest.mark.parametrize("provider", NETWORKED)
def test_text_call_records_run_with_tokens_and_cost(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    run = _run(setup, provider, rendered("Describe the weather in Paris"))
    assert run.status == "ok", run.error_message
    assert run.output == "Echo: Describe the weather in Paris"
    _assert_tokens_match_server(run, providers_on_fake)
    assert run.cost == expected_cost(run)
    assert run.cost > 0
    assert run.provider_request_id
    assert run.latency_ms is not None and run.ttft_ms is not None
    sent = providers_on_fake.last()
    assert sent.headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize("provider", NETWORKED)
def test_image_part_reaches_provider_in_its_wire_format(
    setup: Any, providers_on_fake: FakeProvider, provider: str
) -> None:
    asset = make_asset(setup.workspace, "image")
    run = _run(setup, provider, rendered("What is this?", {"type": "image", "asset": str(asset.pk), "detail": "low"}))
    assert run.status == "ok", run.error_message
    assert run.cost == expected_cost(run)
    assert run.input == {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "asset": str(asset.pk), "detail": "low"},
                ],
            },
        ]
    }
    body = providers_on_fake.last().body
    b64 = base64.b64encode(png_bytes()).decode()
    if provider == "anthropic":
        assert body["system"] == "Be brief."
        block = body["messages"][0]["content"][1]
        assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}}
    elif provider == "mistral":
        part = body["messages"][1]["content"][1]
        assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}", "detail": "low"}}
    else:
        part = body["messages"][1]["content"][1]
        assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}", "detail": "low"}}


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_audio_part_is_sent_where_the_model_takes_audio(
    setup: Any, providers_on_fake: FakeProvider, provider: str
) -> None:
    _extra_model(provider, "audio-model", ["text", "audio"])
    asset = make_asset(setup.workspace, "audio")
    run = _run(setup, provider, rendered("Transcribe", {"type": "audio", "asset": str(asset.pk)}), model="audio-model")
    assert run.status == "ok", run.error_message
    assert run.cost == expected_cost(run)
    part = providers_on_fake.last().body["messages"][1]["content"][1]
    b64 = base64.b64encode(wav_bytes()).decode()
    if provider == "openai":
        assert part == {"type": "input_audio", "input_audio": {"data": b64, "format": "wav"}}
    else:
        assert part == {"type": "input_audio", "input_audio": b64}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "mistral"])
def test_pdf_part_is_sent_where_the_model_takes_documents(
    setup: Any, providers_on_fake: FakeProvider, provider: str
) -> None:
    model = MODELS[provider]
    if provider == "mistral":
        _extra_model("mistral", "doc-model", ["text", "document"])
        model = "doc-model"
    asset = make_asset(setup.workspace, "document")
    run = _run(setup, provider, rendered("Summarise", {"type": "document", "asset": str(asset.pk)}), model=model)
    assert run.status == "ok", run.error_message
    assert run.cost == expected_cost(run)
    body = providers_on_fake.last().body
    if provider == "anthropic":
        assert body["messages"][0]["content"][1]["type"] == "document"
        assert body["messages"][0]["content"][1]["source"]["media_type"] == "application/pdf"
    elif provider == "openai":
        part = body["messages"][1]["content"][1]
        assert part["type"] == "file"
        assert part["file"]["filename"] == "page.pdf"
        assert part["file"]["file_data"].startswith("data:application/pdf;base64,")
    else:
        part = body["messages"][1]["content"][1]
        assert part["type"] == "document_url"
        assert part["document_url"].startswith("data:application/pdf;base64,")


@pytest.mark.parametrize(
    ("provider", "kind"),
    [("anthropic", "audio"), ("mistral", "document"), ("openai_compatible", "audio"), ("openai", "audio")],
)
def test_part_the_model_cannot_take_is_refused_before_any_call(
    setup: Any, providers_on_fake: FakeProvider, provider: str, kind: str
) -> None:
    asset = make_asset(setup.workspace, kind)
    with pytest.raises(services.RunRefused) as refused:
        _run(setup, provider, rendered("Listen", {"type": kind, "asset": str(asset.pk)}))
    message = str(refused.value)
    assert "messages[1].content[1]" in message
    assert MODELS[provider] in message
    assert f"an {kind}" in message or f"a {kind}" in message
    assert UNSUPPORTED_PART.split("{")[0] == ""  # the constant starts with the part's place
    assert providers_on_fake.request_count == 0
    assert not Run.objects.exists()


@pytest.mark.parametrize("provider", NETWORKED)
def test_streaming_records_run_with_usage(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    events = list(
        services.run_events(
            workspace=setup.workspace,
            user=setup.editor,
            rendered=rendered("Stream these words please"),
            targets=[Target(provider=provider, model=MODELS[provider])],
        )
    )
    names = [name for name, _ in events]
    assert names[0] == "run"
    assert names.count("delta") >= 4
    assert names[-2:] == ["done", "end"]
    text = "".join(data["text"] for name, data in events if name == "delta")
    run = Run.objects.get()
    assert run.status == "ok"
    assert run.output == text == "Echo: Stream these words please"
    _assert_tokens_match_server(run, providers_on_fake)
    assert run.cost == expected_cost(run)
    assert run.ttft_ms is not None and run.ttft_ms <= run.latency_ms
    body = providers_on_fake.last().body
    if provider == "mistral":
        assert "stream_options" not in body
    elif provider != "anthropic":
        assert body["stream_options"] == {"include_usage": True}


def test_streaming_two_targets_side_by_side(setup: Any, providers_on_fake: FakeProvider) -> None:
    providers_on_fake.chunk_delay_ms = 5
    events = list(
        services.run_events(
            workspace=setup.workspace,
            user=setup.editor,
            rendered=rendered("Side by side"),
            targets=[Target(provider="openai", model="gpt-4o"), Target(provider="anthropic", model="claude-haiku-4-5")],
        )
    )
    done = [data for name, data in events if name == "done"]
    assert sorted(d["index"] for d in done) == [0, 1]
    assert {d["run"]["provider"] for d in done} == {"openai", "anthropic"}
    assert Run.objects.filter(status="ok").count() == 2


@pytest.mark.parametrize("provider", NETWORKED)
def test_401_is_an_auth_error_without_retries(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    providers_on_fake.fail_next(401, times=5)
    run = _run(setup, provider, rendered())
    assert run.status == "error"
    assert run.error_kind == "auth"
    assert "401" in run.error_message and "key" in run.error_message
    assert run.cost == 0
    assert providers_on_fake.request_count == 1


@pytest.mark.parametrize("provider", NETWORKED)
def test_429_becomes_rate_limit_with_retry_after_after_retries(
    setup: Any, providers_on_fake: FakeProvider, provider: str
) -> None:
    providers_on_fake.fail_next(429, times=50, retry_after="0.02", retry_after_ms="20")
    run = _run(setup, provider, rendered())
    assert run.status == "error"
    assert run.error_kind == "rate_limit"
    assert run.retry_after == pytest.approx(0.02)
    assert "retry after 0.02 s" in run.error_message
    assert providers_on_fake.request_count >= 2  # retried (Mistral through our explicit RetryConfig)


@pytest.mark.parametrize("provider", NETWORKED)
def test_500_once_is_retried_and_succeeds(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    providers_on_fake.fail_next(500, times=1)
    run = _run(setup, provider, rendered("after a hiccup"))
    assert run.status == "ok", run.error_message
    assert providers_on_fake.request_count == 2
    assert run.cost == expected_cost(run)


@pytest.mark.parametrize("provider", NETWORKED)
def test_500_every_time_is_a_server_error(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    providers_on_fake.fail_next(500, times=50)
    run = _run(setup, provider, rendered())
    assert run.status == "error"
    assert run.error_kind == "server"
    assert "server error (500)" in run.error_message


@pytest.mark.parametrize("provider", NETWORKED)
def test_529_is_overloaded(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    providers_on_fake.fail_next(529, times=50)
    run = _run(setup, provider, rendered())
    assert run.status == "error"
    assert run.error_kind == "overloaded"
    assert "overloaded (529)" in run.error_message


@pytest.mark.parametrize("provider", NETWORKED)
def test_timeout_is_reported(setup: Any, settings: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    settings.PROVIDER_MAX_RETRIES = 0
    providers_on_fake.hang_next(3)
    run = _run(setup, provider, rendered())
    assert run.status == "error"
    assert run.error_kind == "timeout"
    assert "did not answer within 0.3 s" in run.error_message


@pytest.mark.parametrize("provider", NETWORKED)
def test_error_during_stream_is_recorded(setup: Any, providers_on_fake: FakeProvider, provider: str) -> None:
    providers_on_fake.fail_next(401, times=5)
    events = list(
        services.run_events(
            workspace=setup.workspace,
            user=setup.editor,
            rendered=rendered(),
            targets=[Target(provider=provider, model=MODELS[provider])],
        )
    )
    error = next(data for name, data in events if name == "error")
    assert error["run"]["error_kind"] == "auth"
    assert Run.objects.get().status == "error"


def test_anthropic_sampling_params_are_dropped_with_a_warning(setup: Any, providers_on_fake: FakeProvider) -> None:
    run = _run(setup, "anthropic", rendered(), temperature=0.3, top_p=0.9, max_tokens=50)
    assert run.status == "ok", run.error_message
    assert run.warnings == [
        "Anthropic refuses temperature; it was not sent.",
        "Anthropic refuses top_p; it was not sent.",
    ]
    body = providers_on_fake.last().body
    assert "temperature" not in body and "top_p" not in body
    assert body["max_tokens"] == 50


def test_openai_params_are_sent(setup: Any, providers_on_fake: FakeProvider) -> None:
    run = _run(setup, "openai", rendered(), temperature=0.3, max_tokens=50, seed=7)
    assert run.status == "ok"
    body = providers_on_fake.last().body
    assert body["temperature"] == 0.3
    assert body["max_completion_tokens"] == 50
    assert body["seed"] == 7


def test_client_disconnect_mid_stream_records_cancelled_run(setup: Any, providers_on_fake: FakeProvider) -> None:
    providers_on_fake.chunk_delay_ms = 50
    events = services.run_events(
        workspace=setup.workspace,
        user=setup.editor,
        rendered=rendered("one two three four five six"),
        targets=[Target(provider="openai", model="gpt-4o")],
    )
    for name, _ in events:
        if name == "delta":
            break
    events.close()  # what Django does when the client goes away
    run = Run.objects.get()
    assert run.status == "error"
    assert run.error_kind == "cancelled"
    assert run.output.startswith("Echo")


def test_async_complete_works_for_each_provider(setup: Any, providers_on_fake: FakeProvider) -> None:
    import asyncio

    for provider in NETWORKED:
        call = services.call_prepare(
            workspace_id=setup.workspace.pk, rendered=rendered("async"), target=Target(provider, MODELS[provider])
        )
        result = asyncio.run(call.adapter.acomplete(call.request()))
        assert result.text == "Echo: async"
        assert result.usage.input_tokens > 0
