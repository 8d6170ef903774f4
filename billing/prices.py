"""Provider prices in USD, from each provider's public pricing page (checked 2026-11).

Amounts are Decimal USD. Update here only; every ledger row is computed from these.
"""

from __future__ import annotations

from decimal import Decimal

# OpenAI pricing, https://openai.com/api/pricing/ : Whisper $0.006 per minute of audio.
WHISPER_USD_PER_MINUTE = Decimal("0.006")
# OpenAI pricing: text-embedding-3-small $0.02 per 1M input tokens.
EMBEDDING_USD_PER_MILLION_TOKENS = {
    "text-embedding-3-small": Decimal("0.02"),
    "text-embedding-3-large": Decimal("0.13"),
}
# Anthropic pricing, https://www.anthropic.com/pricing : (input, output) USD per 1M tokens.
# OpenAI chat models likewise from OpenAI's pricing page.
CHAT_USD_PER_MILLION_TOKENS: dict[str, tuple[Decimal, Decimal]] = {
    "claude-haiku-4-5": (Decimal("1.00"), Decimal("5.00")),
    "claude-3-5-haiku-latest": (Decimal("0.80"), Decimal("4.00")),
    "claude-sonnet-4-5": (Decimal("3.00"), Decimal("15.00")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
}
MILLION = Decimal(1_000_000)


def whisper_cost(seconds: float) -> Decimal:
    """USD for `seconds` of audio sent to whisper-1 (billed per minute, pro rata)."""
    return (Decimal(str(seconds)) / 60 * WHISPER_USD_PER_MINUTE).quantize(Decimal("0.000001"))


def embedding_cost(model: str, tokens: int) -> Decimal:
    """USD for `tokens` input tokens to embedding `model`; unknown models cost 0."""
    price = EMBEDDING_USD_PER_MILLION_TOKENS.get(model, Decimal(0))
    return (Decimal(tokens) * price / MILLION).quantize(Decimal("0.000001"))


def chat_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """USD for one chat completion; models missing from the table cost 0 (logged upstream)."""
    price_in, price_out = CHAT_USD_PER_MILLION_TOKENS.get(model, (Decimal(0), Decimal(0)))
    total = Decimal(input_tokens) * price_in + Decimal(output_tokens) * price_out
    return (total / MILLION).quantize(Decimal("0.000001"))
