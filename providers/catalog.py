"""The shipped model catalog (as data), cost as each provider bills, and pre-run estimates.

Prices are USD per 1M tokens and change often: they live in the database (ModelInfo, editable in
django-admin), loaded from ``DEFAULT_MODELS`` by a data migration and by
``manage.py load_model_catalog``. ``verified=False`` marks prices not read from the provider's own
pricing page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.adapters.base import estimate_tokens
from providers.types import Message, Usage

PER_MILLION = Decimal(1_000_000)
COST_PLACES = Decimal("0.00000001")
PRICES_READ_ON = date(2026, 11, 30)
SOURCE = "PROVIDERS.md (provider pricing pages, 2026-11)"
THIRD_PARTY = "third-party pricing page (2026-11); not confirmed by the provider"
ESTIMATE_OUTPUT_TOKENS = 256
ESTIMATE_NOTE = (
    "Estimate: prompt tokens from its length (about 4 characters a token) and {output} output tokens; "
    "the real cost comes from the provider's usage figures."
)

TEXT_IMAGE_PDF = ["text", "image", "document"]


def _m(
    provider: str,
    model_id: str,
    name: str,
    modalities: list[str],
    context: int,
    price_in: str,
    cached: str | None,
    out: str,
    *,
    write: str | None = None,
    verified: bool = True,
    source: str = SOURCE,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "model_id": model_id,
        "display_name": name,
        "input_modalities": modalities,
        "context_window": context,
        "price_input": Decimal(price_in),
        "price_cached_input": Decimal(cached) if cached is not None else None,
        "price_cache_write": Decimal(write) if write is not None else None,
        "price_output": Decimal(out),
        "prices_read_on": PRICES_READ_ON,
        "verified": verified,
        "price_source": source,
    }


DEFAULT_MODELS: list[dict[str, Any]] = [
    # OpenAI: every model here takes images and PDFs.
    _m("openai", "gpt-5", "GPT-5", TEXT_IMAGE_PDF, 400_000, "1.25", "0.125", "10"),
    _m("openai", "gpt-5-mini", "GPT-5 mini", TEXT_IMAGE_PDF, 400_000, "0.25", "0.025", "2"),
    _m("openai", "gpt-5-nano", "GPT-5 nano", TEXT_IMAGE_PDF, 400_000, "0.05", "0.005", "0.4"),
    _m("openai", "gpt-4.1", "GPT-4.1", TEXT_IMAGE_PDF, 1_047_576, "2", "0.5", "8"),
    _m("openai", "gpt-4.1-mini", "GPT-4.1 mini", TEXT_IMAGE_PDF, 1_047_576, "0.4", "0.1", "1.6"),
    _m("openai", "gpt-4o", "GPT-4o", TEXT_IMAGE_PDF, 128_000, "2.5", "1.25", "10"),
    _m("openai", "gpt-4o-mini", "GPT-4o mini", TEXT_IMAGE_PDF, 128_000, "0.15", "0.075", "0.6"),
    # Anthropic: all take images and PDFs; cache writes priced at 1.25x input (5-minute cache).
    _m("anthropic", "claude-haiku-4-5", "Claude Haiku 4.5", TEXT_IMAGE_PDF, 200_000, "1", "0.10", "5", write="1.25"),
    _m("anthropic", "claude-sonnet-4-6", "Claude Sonnet 4.6", TEXT_IMAGE_PDF, 200_000, "3", "0.30", "15", write="3.75"),
    _m("anthropic", "claude-opus-4-5", "Claude Opus 4.5", TEXT_IMAGE_PDF, 200_000, "5", "0.50", "25", write="6.25"),
    # Mistral: prices from a third-party page; no cached price published.
    _m(
        "mistral",
        "mistral-large-latest",
        "Mistral Large",
        ["text", "image"],
        128_000,
        "0.5",
        None,
        "1.5",
        verified=False,
        source=THIRD_PARTY,
    ),
    _m(
        "mistral",
        "mistral-medium-latest",
        "Mistral Medium",
        ["text", "image"],
        128_000,
        "1.5",
        None,
        "7.5",
        verified=False,
        source=THIRD_PARTY,
    ),
    _m(
        "mistral",
        "mistral-small-latest",
        "Mistral Small",
        ["text", "image"],
        128_000,
        "0.1",
        None,
        "0.3",
        verified=False,
        source=THIRD_PARTY,
    ),
    # Echo: returns the rendered prompt, no network, free.
    _m(
        "echo",
        "echo",
        "Echo (returns the prompt)",
        ["text", "image", "audio", "document"],
        1_000_000,
        "0",
        "0",
        "0",
        source="built in",
    ),
]
ECHO_MODEL = "echo"


def load_default_models(model_class: Any, *, update: bool = True) -> tuple[int, int]:
    """Create missing shared catalog rows (and update existing ones when ``update``): (created, updated)."""
    created = updated = 0
    for row in DEFAULT_MODELS:
        values = {k: v for k, v in row.items() if k not in ("provider", "model_id")}
        obj = model_class.objects.filter(provider=row["provider"], model_id=row["model_id"], workspace=None).first()
        if obj is None:
            model_class.objects.create(provider=row["provider"], model_id=row["model_id"], **values)
            created += 1
        elif update:
            for key, value in values.items():
                setattr(obj, key, value)
            obj.save()
            updated += 1
    return created, updated


@dataclass(frozen=True)
class Prices:
    """Per-1M-token prices for one model."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None

    @classmethod
    def of(cls, model: Any) -> Prices:
        return cls(
            input=model.price_input,
            output=model.price_output,
            cached_input=model.price_cached_input,
            cache_write=model.price_cache_write,
        )


def cost_for(provider: str, prices: Prices, usage: Usage) -> Decimal:
    """The cost of a call in USD, as the provider bills it.

    * OpenAI (and OpenAI-compatible): (prompt - cached) x input + cached x cached_input + completion x output;
      reasoning tokens are part of the completion tokens, billed at the output price.
    * Anthropic: input (uncached) x input + cache_write x cache_write + cache_read x cached_input
      + output x output; ``usage.input_tokens`` is the whole prompt (the three input figures added).
    * Mistral: prompt x input + completion x output.
    * Echo: zero.
    """
    cached_price = prices.cached_input if prices.cached_input is not None else prices.input
    if provider == "echo":
        total = Decimal(0)
    elif provider == "anthropic":
        write_price = prices.cache_write if prices.cache_write is not None else prices.input * Decimal("1.25")
        uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
        total = (
            uncached * prices.input
            + usage.cache_write_tokens * write_price
            + usage.cached_tokens * cached_price
            + usage.output_tokens * prices.output
        )
    elif provider == "mistral":
        total = usage.input_tokens * prices.input + usage.output_tokens * prices.output
    else:
        uncached = max(0, usage.input_tokens - usage.cached_tokens)
        total = uncached * prices.input + usage.cached_tokens * cached_price + usage.output_tokens * prices.output
    return (Decimal(total) / PER_MILLION).quantize(COST_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Estimate:
    input_tokens: int
    output_tokens: int
    cost: Decimal
    note: str
    estimated: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": str(self.cost),
            "estimated": True,
            "note": self.note,
        }


def estimate_cost(provider: str, prices: Prices, messages: list[Message], max_tokens: int | None = None) -> Estimate:
    """A pre-run cost estimate from the prompt's length, clearly labelled as an estimate."""
    output = int(max_tokens or ESTIMATE_OUTPUT_TOKENS)
    input_tokens = estimate_tokens(messages)
    cost = cost_for(provider, prices, Usage(input_tokens=input_tokens, output_tokens=output))
    return Estimate(
        input_tokens=input_tokens, output_tokens=output, cost=cost, note=ESTIMATE_NOTE.format(output=output)
    )
