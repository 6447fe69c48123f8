"""The LLM client's pure parts: the price table, costs, estimates, usage, and the missing key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from helmq.errors import NoCredentials
from helmq.llm.client import LLMClient, LLMConfig
from helmq.llm.pricing import (
    PRICES_AS_OF,
    TokenUsage,
    cost,
    estimate_cost,
    normalize_model,
    price_of,
)


def test_no_key_is_no_credentials():
    with pytest.raises(NoCredentials) as caught:
        LLMClient(LLMConfig(api_key=None))

    assert caught.value.failure_class == "no_credentials"
    assert "ANTHROPIC_API_KEY" in str(caught.value)


# --- the price table ---------------------------------------------------------------------

def test_price_table_is_dated_and_knows_current_models():
    assert PRICES_AS_OF.year >= 2026
    for model in ("claude-haiku-4-5", "claude-haiku-5-5", "claude-sonnet-4-5",
                  "claude-sonnet-4-6", "claude-sonnet-5-5", "claude-opus-4-6",
                  "claude-opus-5-5"):
        assert price_of(model) is not None, model


@pytest.mark.parametrize(("model", "key"), [
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-opus-4-20250514", "claude-opus-4-0"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
    ("claude-sonnet-4-6[1m]", "claude-sonnet-4-6"),
])
def test_dated_model_ids_find_their_price(model, key):
    assert normalize_model(model) == key
    assert price_of(model) is price_of(key)


def test_cost_counts_every_kind_of_token():
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000,
                       cache_creation_input_tokens=1_000_000, cache_read_input_tokens=1_000_000)

    assert cost("claude-sonnet-4-6", usage) == Decimal("3") + 15 + Decimal("3.75") + \
        Decimal("0.30")
    assert cost("claude-opus-4-6-20260205", usage) == 5 + 25 + Decimal("6.25") + \
        Decimal("0.50")


def test_one_hour_cache_writes_cost_more():
    usage = TokenUsage(cache_creation_input_tokens=1_000_000, cache_creation_1h_tokens=400_000)

    assert cost("claude-haiku-4-5", usage) == Decimal("0.6") * Decimal("1.25") + \
        Decimal("0.4") * 2


def test_long_prompts_pay_the_long_prompt_band():
    short = TokenUsage(input_tokens=100_000, output_tokens=1000)
    long = TokenUsage(input_tokens=60_000, cache_read_input_tokens=50_000, output_tokens=1000)

    assert cost("claude-haiku-5-5", short) == Decimal("0.010") + Decimal("0.0005")
    assert cost("claude-haiku-5-5", long) == Decimal("0.030") + Decimal("0.0025") + \
        Decimal("0.0025")


def test_unknown_models_cost_none_never_zero():
    usage = TokenUsage(input_tokens=10, output_tokens=10)

    assert cost("claude-fable-5-2", usage) is None
    assert cost("gpt-5", usage) is None
    assert cost(None, usage) is None
    assert estimate_cost("claude-mythos-preview", 4000, 100) is None


def test_usage_from_the_api_shape():
    usage = TokenUsage.from_api({
        "input_tokens": 5, "output_tokens": 6, "cache_creation_input_tokens": 7,
        "cache_read_input_tokens": None,
        "cache_creation": {"ephemeral_1h_input_tokens": 2, "ephemeral_5m_input_tokens": 5}})

    assert usage == TokenUsage(5, 6, 7, 0, 2)
    assert usage.prompt_tokens == 12


def test_estimate_prices_chars_over_four_and_the_whole_output_budget():
    # 4000 chars ≈ 1000 tokens at the cache-write price, plus 500 output tokens
    assert estimate_cost("claude-haiku-4-5", 4000, 500) == (
        Decimal(1000) * Decimal("1.25") + Decimal(500) * 5) / 1_000_000
