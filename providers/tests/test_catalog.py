from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management import call_command

from providers.catalog import DEFAULT_MODELS, Prices, cost_for, estimate_cost
from providers.models import ModelInfo
from providers.types import Message, TextPart, Usage


def test_migration_ships_the_default_catalog(db: Any) -> None:
    shipped = {(m["provider"], m["model_id"]) for m in DEFAULT_MODELS}
    stored = set(ModelInfo.objects.filter(workspace=None).values_list("provider", "model_id"))
    assert shipped <= stored
    echo = ModelInfo.objects.get(provider="echo")
    assert echo.price_input == echo.price_output == 0
    assert not ModelInfo.objects.get(model_id="mistral-large-latest").verified
    assert ModelInfo.objects.get(model_id="gpt-4o").prices_read_on is not None


def test_load_command_restores_edited_prices_unless_told_to_keep_them(db: Any) -> None:
    ModelInfo.objects.filter(model_id="gpt-4o").update(price_input=Decimal("99"))
    call_command("load_model_catalog", "--keep-prices")
    assert ModelInfo.objects.get(model_id="gpt-4o").price_input == Decimal("99")
    call_command("load_model_catalog")
    assert ModelInfo.objects.get(model_id="gpt-4o").price_input == Decimal("2.5")


PRICES = Prices(input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0.3"), cache_write=Decimal("3.75"))


def test_openai_cost_bills_cached_tokens_at_the_cached_price() -> None:
    usage = Usage(input_tokens=1_000_000, cached_tokens=400_000, output_tokens=100_000, reasoning_tokens=50_000)
    # 600k x 3 + 400k x 0.3 + 100k x 15 (reasoning already inside the output) = 1.8 + 0.12 + 1.5
    assert cost_for("openai", PRICES, usage) == Decimal("3.42")


def test_anthropic_cost_adds_cache_writes_and_reads() -> None:
    usage = Usage(input_tokens=1_000_000, cached_tokens=200_000, cache_write_tokens=300_000, output_tokens=10_000)
    # 500k x 3 + 300k x 3.75 + 200k x 0.3 + 10k x 15 = 1.5 + 1.125 + 0.06 + 0.15
    assert cost_for("anthropic", PRICES, usage) == Decimal("2.835")


def test_mistral_cost_ignores_cached_tokens() -> None:
    usage = Usage(input_tokens=1_000_000, cached_tokens=500_000, output_tokens=1_000_000)
    assert cost_for("mistral", PRICES, usage) == Decimal("18")


def test_echo_is_free() -> None:
    assert cost_for("echo", PRICES, Usage(input_tokens=10**6, output_tokens=10**6)) == 0


def test_estimate_is_character_based_and_labelled() -> None:
    estimate = estimate_cost("openai", PRICES, [Message("user", (TextPart("x" * 4000),))], max_tokens=1000)
    assert estimate.input_tokens == 1000
    assert estimate.cost == Decimal("0.018")
    assert estimate.estimated and estimate.note.startswith("Estimate")
