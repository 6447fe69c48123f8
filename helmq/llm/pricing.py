"""What a call cost: token usage × a dated price table. An unknown model's cost is unknown.

Prices move: when a model is added or a price changes, update PRICES and PRICES_AS_OF
together. A model missing here costs None, and budgeted tiers refuse to call it (fail
closed) rather than count it as free.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

PRICES_AS_OF = date(2026, 11, 26)
PRICES_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"
MILLION = Decimal(1_000_000)
CHARS_PER_TOKEN = 4
"""Rough prompt size for estimates before a call; newer tokenizers differ, hence the margin
in `estimate_cost` (input priced as cache writes)."""


@dataclass(frozen=True)
class Price:
    """List prices in USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    """Writes with the default 5-minute TTL."""
    cache_write_1h: Decimal
    cache_read: Decimal
    long_prompt: tuple[int, Price] | None = None
    """(threshold, prices): a request whose prompt (input + cache reads and writes) is over
    `threshold` tokens pays these prices on every token, output included."""

    def band(self, prompt_tokens: int) -> Price:
        """The prices that apply to a request with this many prompt tokens."""
        if self.long_prompt and prompt_tokens > self.long_prompt[0]:
            return self.long_prompt[1]
        return self


def _p(inp: str, out: str, write: str, write_1h: str, read: str,
       long_prompt: tuple[int, Price] | None = None) -> Price:
    d = Decimal
    return Price(d(inp), d(out), d(write), d(write_1h), d(read), long_prompt)


_OPUS_45 = _p("5", "25", "6.25", "10", "0.50")
_OPUS_4 = _p("15", "75", "18.75", "30", "1.50")
_SONNET_4 = _p("3", "15", "3.75", "6", "0.30")
_SONNET_4_1M = _p("3", "15", "3.75", "6", "0.30", (200_000, _p("6", "22.50", "7.50", "12", "0.60")))
_FABLE_5 = _p("10", "50", "12.50", "20", "1")
_FABLE_51 = _p("10", "50", "12.50", "20", "0.25")

PRICES: dict[str, Price] = {
    "claude-fable-5-1": _FABLE_51,
    "claude-mythos-5-1": _FABLE_51,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-opus-5-5": _p("4", "20", "5", "8", "0.20"),
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    # Sonnet 5.5 cache reads fell from 0.20 to 0.10 on 2026-10-07.
    "claude-sonnet-5-5": _p("2", "10", "2.50", "4", "0.10"),
    "claude-sonnet-5": _p("2", "10", "2.50", "4", "0.20"),
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4_1M,
    "claude-sonnet-4-0": _SONNET_4_1M,
    "claude-3-7-sonnet": _SONNET_4,
    "claude-haiku-5-5": _p("0.10", "0.50", "0.125", "0.20", "0.01",
                           (100_000, _p("0.50", "2.50", "0.625", "1", "0.05"))),
    "claude-haiku-4-5": _p("1", "5", "1.25", "2", "0.10"),
    "claude-3-5-haiku": _p("0.80", "4", "1", "1.6", "0.08"),
    "claude-3-haiku": _p("0.25", "1.25", "0.30", "0.50", "0.03"),
}
_ALIASES = {"claude-opus-4": "claude-opus-4-0", "claude-sonnet-4": "claude-sonnet-4-0"}
_SUFFIX = re.compile(r"(-\d{8}|-latest|\[1m\])$")


@dataclass(frozen=True)
class TokenUsage:
    """The token counts of one call, as the API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    """The part of cache_creation_input_tokens written with the 1-hour TTL."""

    @classmethod
    def from_api(cls, usage: Any) -> TokenUsage:
        """From the SDK's `Usage` object (or a dict of the same fields)."""
        get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
        breakdown = get("cache_creation")
        one_hour = (breakdown.get("ephemeral_1h_input_tokens") if isinstance(breakdown, dict)
                    else getattr(breakdown, "ephemeral_1h_input_tokens", None))
        return cls(
            input_tokens=get("input_tokens") or 0,
            output_tokens=get("output_tokens") or 0,
            cache_creation_input_tokens=get("cache_creation_input_tokens") or 0,
            cache_read_input_tokens=get("cache_read_input_tokens") or 0,
            cache_creation_1h_tokens=one_hour or 0,
        )

    @property
    def prompt_tokens(self) -> int:
        """Every token the prompt was billed for: fresh, cache writes and cache reads."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def normalize_model(model: str) -> str:
    """The price-table key for a model id: no date suffix (`claude-haiku-4-5-20251001`)."""
    base = _SUFFIX.sub("", model.strip().lower())
    return _ALIASES.get(base, base)


def price_of(model: str | None) -> Price | None:
    """The list prices of `model`, or None when the table does not know it."""
    return PRICES.get(normalize_model(model)) if model else None


def cost(model: str | None, usage: TokenUsage) -> Decimal | None:
    """USD cost of one call; None when the model's price is unknown (never $0)."""
    price = price_of(model)
    if price is None:
        return None
    band = price.band(usage.prompt_tokens)
    one_hour = min(usage.cache_creation_1h_tokens, usage.cache_creation_input_tokens)
    total = (
        usage.input_tokens * band.input
        + usage.output_tokens * band.output
        + (usage.cache_creation_input_tokens - one_hour) * band.cache_write
        + one_hour * band.cache_write_1h
        + usage.cache_read_input_tokens * band.cache_read
    )
    return total / MILLION


def estimate_tokens(chars: int) -> int:
    """Prompt tokens for `chars` characters of prompt text (≈ chars/4, rounded up)."""
    return math.ceil(chars / CHARS_PER_TOKEN)


def estimate_cost(model: str | None, prompt_chars: int, max_output_tokens: int) -> Decimal | None:
    """An upper-leaning estimate before a call: the prompt priced as cache writes (the dearer
    input rate) and the full `max_output_tokens`; None for an unknown model."""
    price = price_of(model)
    if price is None:
        return None
    prompt = estimate_tokens(prompt_chars)
    band = price.band(prompt)
    return (prompt * max(band.input, band.cache_write) + max_output_tokens * band.output) / MILLION
