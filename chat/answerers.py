"""Answerers: turn a question and its retrieved passages into a (streamed) answer.

- AnthropicAnswerer: Claude through the `anthropic` SDK (streaming Messages API).
- OpenAIChatAnswerer: any OpenAI-compatible chat endpoint (`openai` SDK, streaming, with
  stream_options.include_usage so the final chunk carries token counts).
- ExtractiveAnswerer: offline default. Quotes the best supporting sentences, labelled as
  quotations, each with its [n] marker. No model, no cost.

Choice (settings.CHRONOS_ANSWERER): auto | anthropic | openai | extractive. auto ->
Anthropic when ANTHROPIC_API_KEY is set, else OpenAI when OPENAI_API_KEY is set (with
OPENAI_CHAT_MODEL and optional OPENAI_BASE_URL), else extractive.

Every answerer has `stream(question=, passages=, history=) -> Iterator[str]` yielding text
deltas; after the iterator is exhausted, `.usage` holds an AnswerUsage. Provider failures
raise AnswererError with a message fit for a student.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.prompts import SYSTEM_PROMPT, TITLE_PROMPT, build_messages

# Upper bound on answer length (tokens); answers are a paragraph or a few bullets.
MAX_ANSWER_TOKENS = 1024
MAX_TITLE_TOKENS = 24
# The extractive answer quotes at most this many passages.
EXTRACTIVE_MAX_QUOTES = 3
EXTRACTIVE_LABEL = "Quoted from the videos:"
NOT_COVERED = "The videos don't cover this."
PROVIDER_ERROR = (
    "The tutor could not answer right now (the AI provider did not respond). "
    "Your question is saved; please try again in a moment."
)


class AnswererError(Exception):
    """A provider failed; str(exc) is safe to show to a student."""


@dataclass
class AnswerUsage:
    """Tokens of one call; paid=False for the extractive answerer."""

    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    paid: bool = False


class ExtractiveAnswerer:
    """Composes an answer from the passages' quotes (no LLM). Honest about what it is."""

    name = "extractive"
    provider = "chronos"
    model = "extractive"
    paid = False

    def __init__(self) -> None:
        self.usage = AnswerUsage(provider=self.provider, model=self.model)

    def select(self, passages) -> list[int]:
        """1-based numbers of the passages quoted: the best by span score, at most
        EXTRACTIVE_MAX_QUOTES, each scoring at least half the best one."""
        if not passages:
            return []
        best = max(p.score for p in passages)
        ranked = sorted(range(len(passages)), key=lambda i: (-passages[i].score, i))
        chosen = [i for i in ranked if passages[i].score >= best / 2][:EXTRACTIVE_MAX_QUOTES]
        return [i + 1 for i in chosen]

    def stream(self, *, question: str, passages, history=()) -> Iterator[str]:
        numbers = self.select(passages)
        if not numbers:
            yield NOT_COVERED
            return
        yield EXTRACTIVE_LABEL + "\n\n"
        for k, n in enumerate(numbers):
            sep = "\n\n" if k < len(numbers) - 1 else ""
            yield f"> {escape_markdown(passages[n - 1].quote)} [{n}]{sep}"

    def title(self, question: str) -> tuple[str, AnswerUsage | None]:
        return heuristic_title(question), None


class AnthropicAnswerer:
    """Claude via the anthropic SDK, streaming. Model: settings.ANTHROPIC_MODEL."""

    name = "anthropic"
    provider = "anthropic"
    paid = True

    def __init__(self) -> None:
        import anthropic

        self.model = settings.ANTHROPIC_MODEL
        self.client = anthropic.Anthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            max_retries=settings.CHRONOS_PROVIDER_MAX_RETRIES,
            timeout=settings.CHRONOS_PROVIDER_TIMEOUT,
        )
        self.usage = AnswerUsage(provider=self.provider, model=self.model, paid=True)

    def stream(self, *, question: str, passages, history=()) -> Iterator[str]:
        import anthropic

        messages = build_messages(question, passages, list(history))
        try:
            with self.client.messages.stream(
                model=self.model,
                max_tokens=MAX_ANSWER_TOKENS,
                system=SYSTEM_PROMPT,
                messages=messages,
            ) as stream:
                for text in stream.text_stream:
                    if text:
                        yield text
                final = stream.get_final_message()
        except anthropic.APIError as exc:
            raise AnswererError(PROVIDER_ERROR) from exc
        self.usage.model = getattr(final, "model", None) or self.model
        self.usage.input_tokens = int(final.usage.input_tokens or 0)
        self.usage.output_tokens = int(final.usage.output_tokens or 0)

    def title(self, question: str) -> tuple[str, AnswerUsage | None]:
        import anthropic

        try:
            msg = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TITLE_TOKENS,
                system=TITLE_PROMPT,
                messages=[{"role": "user", "content": question[:1000]}],
            )
        except anthropic.APIError:
            return heuristic_title(question), None
        text = "".join(getattr(b, "text", "") for b in msg.content)
        usage = AnswerUsage(
            provider=self.provider,
            model=self.model,
            input_tokens=int(msg.usage.input_tokens or 0),
            output_tokens=int(msg.usage.output_tokens or 0),
            paid=True,
        )
        return clean_title(text) or heuristic_title(question), usage


class OpenAIChatAnswerer:
    """An OpenAI-compatible chat endpoint via the openai SDK, streaming.

    settings: OPENAI_API_KEY, OPENAI_BASE_URL (None = api.openai.com), OPENAI_CHAT_MODEL."""

    name = "openai"
    provider = "openai"
    paid = True

    def __init__(self) -> None:
        import openai

        self.model = settings.OPENAI_CHAT_MODEL
        self.client = openai.OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            max_retries=settings.CHRONOS_PROVIDER_MAX_RETRIES,
            timeout=settings.CHRONOS_PROVIDER_TIMEOUT,
        )
        self.usage = AnswerUsage(provider=self.provider, model=self.model, paid=True)

    def _messages(self, system: str, messages: list[dict]) -> list[dict]:
        return [{"role": "system", "content": system}, *messages]

    def stream(self, *, question: str, passages, history=()) -> Iterator[str]:
        import openai

        messages = self._messages(SYSTEM_PROMPT, build_messages(question, passages, list(history)))
        try:
            stream = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=MAX_ANSWER_TOKENS,
                stream=True,
                stream_options={"include_usage": True},
            )
            for chunk in stream:
                if chunk.usage is not None:
                    self.usage.input_tokens = int(chunk.usage.prompt_tokens or 0)
                    self.usage.output_tokens = int(chunk.usage.completion_tokens or 0)
                if chunk.model:
                    self.usage.model = chunk.model
                for choice in chunk.choices or []:
                    text = getattr(choice.delta, "content", None)
                    if text:
                        yield text
        except openai.APIError as exc:
            raise AnswererError(PROVIDER_ERROR) from exc

    def title(self, question: str) -> tuple[str, AnswerUsage | None]:
        import openai

        try:
            resp = self.client.chat.completions.create(
                model=self.model,
                messages=self._messages(TITLE_PROMPT, [{"role": "user", "content": question}]),
                max_tokens=MAX_TITLE_TOKENS,
            )
        except openai.APIError:
            return heuristic_title(question), None
        text = resp.choices[0].message.content if resp.choices else ""
        usage = AnswerUsage(
            provider=self.provider,
            model=resp.model or self.model,
            input_tokens=int(getattr(resp.usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(resp.usage, "completion_tokens", 0) or 0),
            paid=True,
        )
        return clean_title(text or "") or heuristic_title(question), usage


def get_answerer():
    """The configured answerer (a new object per question; holds that question's usage).

    Raises ImproperlyConfigured for an unknown CHRONOS_ANSWERER or a forced provider
    without its key."""
    choice = (getattr(settings, "CHRONOS_ANSWERER", "auto") or "auto").lower()
    if choice == "auto":
        if settings.ANTHROPIC_API_KEY:
            return AnthropicAnswerer()
        if settings.OPENAI_API_KEY and (settings.OPENAI_BASE_URL or settings.OPENAI_CHAT_MODEL):
            return OpenAIChatAnswerer()
        return ExtractiveAnswerer()
    if choice == "anthropic":
        if not settings.ANTHROPIC_API_KEY:
            raise ImproperlyConfigured("CHRONOS_ANSWERER=anthropic needs ANTHROPIC_API_KEY.")
        return AnthropicAnswerer()
    if choice == "openai":
        if not settings.OPENAI_API_KEY:
            raise ImproperlyConfigured("CHRONOS_ANSWERER=openai needs OPENAI_API_KEY.")
        return OpenAIChatAnswerer()
    if choice == "extractive":
        return ExtractiveAnswerer()
    raise ImproperlyConfigured(
        f"CHRONOS_ANSWERER={choice!r}: expected auto, anthropic, openai or extractive."
    )


_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}<>#|~!])")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown punctuation so quoted transcript text renders literally
    (and cannot fake a citation marker or a link)."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text or "").strip())


# Openers that carry no topic ("can you tell me", "please explain"...), stripped from the
# front of a question to make an offline title.
_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|ok|okay|so|please|um|uh)[,!. ]+)*"
    r"(?:(?:can|could|would|will) you (?:please )?(?:tell me|explain|describe|show me|help me "
    r"(?:understand|with))?|i (?:want|would like|wanted) to (?:know|understand|learn)|"
    r"please (?:explain|tell me|describe)|tell me|explain|describe)?\s*(?:about\s+)?",
    re.IGNORECASE,
)
_SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to"]
)
TITLE_MAX_WORDS = 8
TITLE_MAX_CHARS = 60


def heuristic_title(question: str) -> str:
    """An offline session title: the question without conversational openers or trailing
    punctuation, cut to TITLE_MAX_WORDS words / TITLE_MAX_CHARS characters, title-cased
    (small words lower-case). "can you explain how a candle burns?" -> "How a Candle Burns"."""
    text = re.sub(r"\s+", " ", question or "").strip()
    stripped = _FILLER.sub("", text, count=1).strip() or text
    words = stripped.rstrip(" ?!.,;:").split()[:TITLE_MAX_WORDS]
    out: list[str] = []
    for i, w in enumerate(words):
        if i and w.lower() in _SMALL_WORDS:
            out.append(w.lower())
        elif w[:1].islower():
            out.append(w[:1].upper() + w[1:])
        else:
            out.append(w)
    title = " ".join(out)
    if len(title) > TITLE_MAX_CHARS:
        title = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return title or "New conversation"


def clean_title(text: str) -> str:
    """An LLM title trimmed of quotes, trailing punctuation and extra lines (<= 80 chars)."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = line.strip().strip("\"'*#\u201c\u201d\u2018\u2019").strip().rstrip(".!?:;")
    return line[:80]
