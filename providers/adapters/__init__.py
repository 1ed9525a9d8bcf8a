"""One adapter per provider behind one small interface (see ``base.Adapter``)."""

from __future__ import annotations

from providers.adapters.anthropic_messages import AnthropicAdapter
from providers.adapters.base import Adapter
from providers.adapters.echo import EchoAdapter
from providers.adapters.mistral_chat import MistralAdapter
from providers.adapters.openai_chat import OpenAIAdapter, OpenAICompatibleAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.provider: adapter
    for adapter in (OpenAIAdapter(), AnthropicAdapter(), MistralAdapter(), OpenAICompatibleAdapter(), EchoAdapter())
}

UNKNOWN_PROVIDER = "Unknown provider {provider!r}; choose one of: {choices}."


def get_adapter(provider: str) -> Adapter:
    try:
        return ADAPTERS[provider]
    except KeyError:
        raise ValueError(UNKNOWN_PROVIDER.format(provider=provider, choices=", ".join(ADAPTERS))) from None


__all__ = ["ADAPTERS", "Adapter", "get_adapter"]
