"""Outbound address policy: private, loopback and metadata addresses are refused before any connection."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.urls import reverse

from providers import services
from providers.netpolicy import OutboundBlocked, check_url

BLOCKED_URLS = [
    ("http://169.254.169.254/", "cloud metadata"),
    ("http://10.0.0.5/", "private"),
    ("http://localhost:5432/", "loopback"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://127.0.0.1:8000/v1", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
]


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: Any) -> None:
    """The check must decide before connecting: any connection attempt fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the policy check tried to connect")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(("url", "why"), BLOCKED_URLS)
def test_private_and_metadata_addresses_are_refused(settings: Any, url: str, why: str) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = []
    with pytest.raises(OutboundBlocked) as blocked:
        check_url(url)
    assert f" {why} address" in str(blocked.value)
    assert "OUTBOUND_ALLOW_HOSTS" in str(blocked.value)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://169.254.169.254/", ["169.254.169.254"]),
        ("http://10.0.0.5/", ["10.0.0.5:80"]),
        ("http://localhost:5432/", ["localhost:5432"]),
        ("http://localhost:11434/v1", ["localhost"]),
    ],
)
def test_operator_allow_setting_lets_a_named_host_through(settings: Any, url: str, allow: list[str]) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = allow
    assert check_url(url) == url


def test_allowing_another_port_does_not_allow_this_one(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = ["localhost:11434"]
    with pytest.raises(OutboundBlocked):
        check_url("http://localhost:5432/")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/"])
def test_non_http_and_credential_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundBlocked):
        check_url(url)


@pytest.mark.parametrize(("url", "_why"), BLOCKED_URLS[:3])
def test_custom_base_url_credential_is_refused_with_the_reason(
    team: Any, api: Any, settings: Any, url: str, _why: str
) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = []
    response = api(team.admin).post(
        reverse("api:provider-credentials"),
        {"workspace": team.workspace.pk, "provider": "openai_compatible", "base_url": url},
        format="json",
    )
    assert response.status_code == 400
    assert "which the studio does not call" in response.json()["detail"]


def test_allowed_base_url_is_accepted(team: Any, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = ["localhost:11434"]
    credential = services.credential_create(
        workspace=team.workspace,
        user=team.admin,
        provider="openai_compatible",
        api_key="",
        base_url="http://localhost:11434/v1",
    )
    assert credential.base_url == "http://localhost:11434/v1"


def test_base_url_allowed_earlier_is_checked_again_at_call_time(team: Any, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_HOSTS = ["10.0.0.5"]
    services.credential_create(
        workspace=team.workspace,
        user=team.admin,
        provider="openai_compatible",
        api_key="",
        base_url="http://10.0.0.5/v1",
    )
    services.custom_model_create(workspace=team.workspace, model_id="llama")
    settings.OUTBOUND_ALLOW_HOSTS = []
    with pytest.raises(services.RunRefused) as refused:
        services.run_execute(
            workspace=team.workspace,
            user=team.editor,
            rendered={"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            target=services.Target("openai_compatible", "llama"),
        )
    assert "10.0.0.5" in str(refused.value)


def test_media_url_the_studio_would_fetch_is_refused(team: Any, settings: Any) -> None:
    """Audio by URL to OpenAI is fetched by the studio itself, so the policy applies."""
    settings.OUTBOUND_ALLOW_HOSTS = []
    services.credential_create(workspace=team.workspace, user=team.admin, provider="openai", api_key="sk-x")
    from providers.models import ModelInfo

    ModelInfo.objects.create(
        provider="openai", model_id="audio-model", display_name="a", input_modalities=["text", "audio"]
    )
    with pytest.raises(services.RunRefused) as refused:
        services.run_execute(
            workspace=team.workspace,
            user=team.editor,
            rendered={
                "messages": [{"role": "user", "content": [{"type": "audio", "url": "http://169.254.169.254/latest"}]}]
            },
            target=services.Target("openai", "audio-model"),
        )
    assert "messages[0].content[0]" in str(refused.value)
    assert "cloud metadata" in str(refused.value)
