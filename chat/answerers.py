"""Answerers: turn a question and its retrieved passages into a (streamed) answer.

- AnthropicAnswerer: Claude through the `anthropic` SDK (streaming Messages API).
- OpenAIChatAnswerer: any OpenAI-compatible chat endpoint (`openai` SDK, streaming, with
  stream_options.include_usage so the final chunk carries token counts).
- ExtractiveAnswerer: offline default. Explains with 2-5 whole sentences of the videos around
  the best moments, each with its [n] marker, introduced by a sentence naming the
  lecture(s). No model, no cost.

Choice (settings.CHRONOS_ANSWERER): auto | anthropic | openai | extractive. auto ->
Anthropic when ANTHROPIC_API_KEY is set, else OpenAI when OPENAI_API_KEY is set (with
OPENAI_CHAT_MODEL and optional OPENAI_BASE_URL), else extractive.

Every answerer has `stream(question=, passages=, history=) -> Iterator[str]` yielding text
deltas; after the iterator is exhausted, `.usage` holds an AnswerUsage. Provider failures
raise AnswererError with a message fit for a student.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.formatting import caption_typography
from chat.prompts import (
    REWRITE_PROMPT,
    SYSTEM_PROMPT,
    TITLE_PROMPT,
    build_messages,
    build_rewrite_message,
)
from chronos.errors import ProviderUnavailable

# Upper bound on answer length (tokens); answers are a paragraph or a few bullets.
MAX_ANSWER_TOKENS = 1024
MAX_TITLE_TOKENS = 24
MAX_REWRITE_TOKENS = 120
# The offline answer: 2-5 whole sentences (issue 12): the answering sentence of every moment
# (5 moments, 5 citations), then the best moment continued, up to 3 sentences of it.
EXTRACTIVE_MIN_SENTENCES = 2
EXTRACTIVE_MAX_SENTENCES = 5
EXTRACTIVE_FIRST_MOMENT_SENTENCES = 3
NOT_COVERED = "The videos don't cover this."
PROVIDER_ERROR = (
    "The tutor could not answer right now (the AI provider did not respond). "
    "Your question is saved; please try again in a moment."
)


class AnswererError(ProviderUnavailable):
    """A provider failed; str(exc) is safe to show to a student (API: 503)."""


@dataclass
class AnswerUsage:
    """Tokens of one call; paid=False for the extractive answerer."""

    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    paid: bool = False


class ExtractiveAnswerer:
    """The offline answerer: an explanation drawn from the videos, without a model.

    One sentence naming the lecture(s), then EXTRACTIVE_MIN_SENTENCES..EXTRACTIVE_MAX_SENTENCES
    whole sentences of the transcript around the best moments (the answering sentence of
    each moment, best first, the first moment continued by the sentences that follow it
    while the budget allows),
    each cited [n], none repeated; quoted as a block because they are the lecturer's words,
    one paragraph per moment.
    Outline passages (kind "outline": "what is this lecture about?") become a list of the
    lecture's parts in order. No model, no cost.
    """

    name = "extractive"
    provider = "chronos"
    model = "extractive"
    paid = False

    def __init__(self) -> None:
        self.usage = AnswerUsage(provider=self.provider, model=self.model)

    def select(self, passages) -> list[tuple[int, str]]:
        """[(1-based passage number, sentence)]: the sentences the answer quotes (see class
        doc), complete sentences only, no two alike, grouped by passage in order. Every
        moment gets its answering sentence first (up to EXTRACTIVE_MAX_SENTENCES moments, so
        5 relevant moments give 5 citations); sentences left in the budget continue the best
        moment, up to EXTRACTIVE_FIRST_MOMENT_SENTENCES of it (at least
        EXTRACTIVE_MIN_SENTENCES in all when it has them)."""
        chosen: list[tuple[int, str]] = []
        seen: list[set[str]] = []

        def add(n: int, text: str) -> bool:
            text = caption_typography(text)
            words = set(re.findall(r"[a-z0-9']+", text.lower()))
            if not is_sentence(text) or any(
                len(words & w) >= 0.6 * max(len(words), len(w)) for w in seen
            ):
                return False
            chosen.append((n, text))
            seen.append(words)
            return True

        def texts(p) -> list[str]:
            return [s["text"] for s in (p.sentences or [])] or [p.quote]

        for n, p in enumerate(passages, start=1):
            if len(chosen) >= EXTRACTIVE_MAX_SENTENCES:
                break
            add(n, texts(p)[0])
        if passages:
            first = [text for n, text in chosen if n == 1]
            for text in texts(passages[0])[1:]:
                enough = len(first) >= EXTRACTIVE_FIRST_MOMENT_SENTENCES or (
                    len(chosen) >= EXTRACTIVE_MAX_SENTENCES
                )
                if enough and len(chosen) >= EXTRACTIVE_MIN_SENTENCES:
                    break
                if add(1, text):
                    first.append(text)
        return sorted(chosen, key=lambda c: c[0])  # stable: each passage's in order

    def quoted_passages(self, passages) -> list:
        """The passages select() quotes from, in their order. Answering from these alone
        numbers the markers 1..n without gaps: a passage whose sentence repeats an earlier
        one, or is not a whole sentence, would otherwise leave its number unused ([1] [2]
        [4]). The caller cites from the list it passes (chat.citations_for_answer)."""
        if passages and all(getattr(p, "kind", "") == "outline" for p in passages):
            return list(passages)
        used = {n for n, _ in self.select(passages)}
        return [p for n, p in enumerate(passages, start=1) if n in used]

    def stream(self, *, question: str, passages, history=()) -> Iterator[str]:
        if passages and all(getattr(p, "kind", "") == "outline" for p in passages):
            yield from self._outline(passages)
            return
        chosen = self.select(passages)
        if not chosen:
            yield NOT_COVERED
            return
        titles = list(dict.fromkeys(passages[n - 1].video_title for n, _ in chosen))
        yield lecture_intro(titles) + "\n\n"
        # One paragraph per moment: sentences said together read together, and a student
        # sees where one moment of the lectures ends and another begins.
        paragraphs = [
            " ".join(f"{escape_markdown(text)} [{n}]" for _, text in group)
            for n, group in itertools.groupby(chosen, key=lambda c: c[0])
        ]
        yield "> " + "\n>\n> ".join(paragraphs)

    def _outline(self, passages) -> Iterator[str]:
        title, item = None, 0
        for n, p in enumerate(passages, start=1):  # one list per video, citations numbered on
            if p.video_title != title:
                title, item = p.video_title, 0
                intro = f"\u201c{escape_markdown(title)}\u201d goes through these parts, in order:"
                yield ("\n" if n > 1 else "") + intro + "\n\n"
            item += 1
            text = caption_typography((p.sentences[0]["text"] if p.sentences else p.quote) or "")
            yield f"{item}. {escape_markdown(text)} [{n}]\n"

    def title(self, question: str) -> tuple[str, AnswerUsage | None]:
        return heuristic_title(question), None


def lecture_intro(titles: list[str]) -> str:
    """The sentence that opens an offline answer, naming the lecture(s) quoted."""
    named = [f"\u201c{escape_markdown(t)}\u201d" for t in titles if t]
    if not named:
        return "The videos explain it like this, in the lecturer's own words:"
    if len(named) == 1:
        return f"{named[0]} explains it like this, in the lecturer's own words:"
    listed = ", ".join(named[:-1]) + f" and {named[-1]}"
    return f"{listed} explain it like this, in the lecturers' own words:"


_SENTENCE_END = re.compile(r"[.!?][\"'\u201d)\]]?$")


def is_sentence(text: str) -> bool:
    """A complete sentence: it does not start mid-sentence (with a lower-case letter), ends
    with . ! or ? (maybe before a closing quote), and has at least three words."""
    text = (text or "").strip()
    return (
        bool(text)
        and not text[0].islower()
        and bool(_SENTENCE_END.search(text))
        and len(text.split()) >= 3
    )


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

    def rewrite(self, question: str, history) -> tuple[str, AnswerUsage | None]:
        """The question made standalone from `history` [(question, answer)] (see
        chat.followups); ("", None) when the provider fails."""
        import anthropic

        try:
            msg = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_REWRITE_TOKENS,
                system=REWRITE_PROMPT,
                messages=[{"role": "user", "content": build_rewrite_message(question, history)}],
            )
        except anthropic.APIError:
            return "", None
        text = "".join(getattr(b, "text", "") for b in msg.content)
        usage = AnswerUsage(
            provider=self.provider,
            model=self.model,
            input_tokens=int(msg.usage.input_tokens or 0),
            output_tokens=int(msg.usage.output_tokens or 0),
            paid=True,
        )
        return clean_rewrite(text), usage


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

    def rewrite(self, question: str, history) -> tuple[str, AnswerUsage | None]:
        """The question made standalone from `history` (see AnthropicAnswerer.rewrite)."""
        import openai

        try:
            resp = self.client.chat.completions.create(
                model=self.model,
                messages=self._messages(
                    REWRITE_PROMPT,
                    [{"role": "user", "content": build_rewrite_message(question, history)}],
                ),
                max_tokens=MAX_REWRITE_TOKENS,
            )
        except openai.APIError:
            return "", None
        text = resp.choices[0].message.content if resp.choices else ""
        usage = AnswerUsage(
            provider=self.provider,
            model=resp.model or self.model,
            input_tokens=int(getattr(resp.usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(resp.usage, "completion_tokens", 0) or 0),
            paid=True,
        )
        return clean_rewrite(text or ""), usage


def clean_rewrite(text: str) -> str:
    """An LLM's standalone question: its first line, without quotes, at most 500 chars."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line.strip().strip("\"'\u201c\u201d").strip()[:500]


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
    (small words lower-case), quotes balanced (balance_quotes). "can you explain how a
    candle burns?" -> "How a Candle Burns"; 'what does "latent heat mean?' ->
    'What Does "Latent Heat Mean"'."""
    text = re.sub(r"\s+", " ", question or "").strip()
    stripped = _FILLER.sub("", text, count=1).strip() or text
    words = stripped.rstrip(" ?!.,;:").split()[:TITLE_MAX_WORDS]
    out: list[str] = []
    for i, w in enumerate(words):
        lead = len(w) - len(w.lstrip(_OPENERS))  # a word may open a quote: "latent
        head, rest = w[:lead], w[lead:]
        if i and w.lower() in _SMALL_WORDS:
            out.append(w.lower())
        elif rest[:1].islower():
            out.append(head + rest[:1].upper() + rest[1:])
        else:
            out.append(w)
    title = " ".join(out)
    if len(title) > TITLE_MAX_CHARS:
        title = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return balance_quotes(title.rstrip(" ?!.,;:")) or "New conversation"


def clean_title(text: str) -> str:
    """An LLM title trimmed of wrapping quotes, trailing punctuation and extra lines
    (<= 80 chars), its quotes balanced (balance_quotes)."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = line.strip().strip("*#").strip()
    for opener, closer in (('"', '"'), ("“", "”"), ("'", "'"), ("\u2018", "\u2019")):
        if len(line) > 1 and line.startswith(opener) and line.endswith(closer):
            line = line[1:-1].strip()
            break
    line = line.rstrip(".!?:;")
    if len(line) > 80:
        line = line[:80].rsplit(" ", 1)[0] + "…"
    return balance_quotes(line)


# Quote characters a title may open (straight and typographic double quotes, guillemets).
_OPENERS = '"“«('
_PAIRS = (("“", "”"), ("«", "»"))


def balance_quotes(text: str) -> str:
    """`text` with every double quote closed: an unclosed opening quote gets its closing
    quote at the end ('What Is "Entropy' -> 'What Is "Entropy"'), a stray closing quote
    with no opener is dropped ('Entropy" Explained' -> 'Entropy Explained'). Single quotes
    are left alone (apostrophes). Used for session titles, which a cut can leave half-quoted."""
    out = text
    if out.count('"') % 2:
        i = out.rfind('"')
        opens = i == 0 or (not out[i - 1].isalnum() and out[i - 1] not in ".!?,;:)")
        if opens and i < len(out) - 1:
            out += '"'
        else:
            out = (out[:i] + out[i + 1 :]).replace("  ", " ").strip()
    for opener, closer in _PAIRS:
        depth, kept = 0, []
        for ch in out:
            if ch == opener:
                depth += 1
            elif ch == closer:
                if depth == 0:
                    continue  # a closer with no opener
                depth -= 1
            kept.append(ch)
        out = "".join(kept) + closer * depth
    return out
