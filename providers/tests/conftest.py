"""Provider test fixtures: the fake provider server (a real HTTP server) and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from providers import services
from providers.fake_server import FakeProvider
from providers.models import ProviderCredential

TEST_KEY = "sk-test-PLAINTEXT-secret-9f3a"


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def providers_on_fake(settings: Any, fake_provider: FakeProvider) -> FakeProvider:
    """Operator base URLs on the fake server, fast retries and timeouts, the fake host allowed."""
    settings.PROVIDER_BASE_URLS = {p: fake_provider.base_url(p) for p in ("openai", "anthropic", "mistral")}
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0
    settings.PROVIDER_MAX_RETRIES = 2
    settings.PROVIDER_RETRY_INITIAL_MS = 10
    settings.PROVIDER_RETRY_MAX_ELAPSED_MS = 300
    return fake_provider


def add_credential(
    workspace: Any, provider: str, fake: FakeProvider | None = None, key: str = TEST_KEY
) -> ProviderCredential:
    base_url = fake.base_url("openai_compatible") if (fake is not None and provider == "openai_compatible") else ""
    return services.credential_create(
        workspace=workspace, user=None, provider=provider, api_key=key, label=f"{provider} test", base_url=base_url
    )
