"""The four stages' work: probe, transcribe, chunk, embed. Each is idempotent (re-running
replaces what it made) and writes only while its attempt is current."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction

from videos.models import SegmentWindow, TranscriptSegment, Video, VideoChunk
from videos.pipeline.state import (
    Heartbeat,
    _end_stage_fields,
    _lock,
    local_file,
    subject_for,
    video_cost_update,
)


def stage_probe(video: Video, beat: Heartbeat) -> None:
    """Kind, container and duration from the stored file, the duration being what decodes
    (videos.media.readable_duration), not what the container claims; a JPEG thumbnail for
    videos. A cut-off file fails with "this file is cut off at m:ss of m:ss — ..." (its
    readable_seconds kept, so the creator can choose to process the readable part), unless
    that choice was made (use_readable_part): then it goes on with the readable part."""
    from videos.media import (
        MediaError,
        cut_off_message,
        is_cut_off,
        probe,
        readable_duration,
        thumbnail_jpeg,
    )

    if not video.file:
        from videos.providers import PipelineError

        raise PipelineError("The uploaded file is missing from storage. Upload it again.")
    with local_file(video.file) as path:
        name = video.original_filename or path.name
        info = probe(path, filename=name)
        beat.beat(0.1)
        readable = readable_duration(path, progress=lambda f: beat.beat(0.1 + 0.7 * f))
        cut_off = is_cut_off(readable, info.duration)
        if cut_off and not video.use_readable_part:
            Video.objects.filter(pk=video.pk, attempts=video.attempts).update(
                readable_seconds=readable
            )
            raise MediaError(
                cut_off_message(filename=name, readable=readable, claimed=info.duration)
            )
        duration = readable or info.duration
        beat.beat(0.8)
        thumb = thumbnail_jpeg(path, duration=duration) if info.has_video else None
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        old_thumb = v.thumbnail.name if v.thumbnail else ""
        v.duration_seconds = duration
        v.readable_seconds = readable if cut_off else None
        v.media_kind = info.media_kind
        v.container = info.container[:40]
        fields = ["duration_seconds", "readable_seconds", "media_kind", "container"]
        if thumb:
            if old_thumb:
                v.thumbnail.storage.delete(old_thumb)
            v.thumbnail.save("thumb.jpg", ContentFile(thumb), save=False)
            fields.append("thumbnail")
        fields += _end_stage_fields(v, "probe")
        v.save(update_fields=fields)


def stage_transcribe(video: Video, beat: Heartbeat) -> None:
    """TranscriptSegment rows from the captions, Whisper or local ASR (replacing any)."""
    from videos.captions import parse_captions
    from videos.providers import PipelineError
    from videos.transcribers import local_transcribe, transcriber_choice, whisper_transcribe

    language = ""
    if video.captions_file:
        with video.captions_file.open("rb") as fh:
            data = fh.read()
        # a cut-off file processed on its readable part keeps the cues that start in it
        cut_at = video.readable_seconds if video.use_readable_part else None
        cues = parse_captions(
            data,
            filename=Path(video.captions_file.name).name,
            media_duration=video.duration_seconds if cut_at is None else None,
        )
        rows = [
            (c.start, c.end if cut_at is None else min(c.end, cut_at), c.text, c.speaker)
            for c in cues
            if cut_at is None or c.start < cut_at
        ]
        source = Video.TranscriptSource.CAPTIONS
    else:
        choice = transcriber_choice()
        workdir = Path(tempfile.mkdtemp(prefix="chronos-audio-"))
        try:
            with local_file(video.file) as media_path:
                wav = workdir / "audio.wav"
                dur = video.duration_seconds
                # a cut-off file goes as the audio that decodes, never as the broken file
                need_wav = (
                    choice == "local"
                    or video.readable_seconds is not None
                    or not _whisper_can_take(media_path)
                )
                if need_wav:
                    from videos.media import extract_audio_wav

                    extract_audio_wav(
                        media_path, wav, duration=dur, progress=lambda f: beat.beat(0.2 * f)
                    )
                if choice == "whisper":
                    segs, language, _ = whisper_transcribe(
                        media_path,
                        wav_path=wav if need_wav else None,
                        creator=video.creator,
                        subject=subject_for(video),
                        progress=lambda f: beat.beat(0.2 + 0.8 * f),
                        workdir=workdir,
                    )
                    source = Video.TranscriptSource.WHISPER
                else:
                    segs = local_transcribe(wav, progress=lambda f: beat.beat(0.2 + 0.8 * f))
                    language = "en"
                    source = Video.TranscriptSource.LOCAL
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        rows = [(s.start, s.end, s.text, s.speaker) for s in segs]
    if not rows:
        raise PipelineError(
            "We could not find any speech in this file. If it has speech, upload captions "
            "(.vtt or .srt) with it and retry."
        )
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        TranscriptSegment.objects.filter(video=v).delete()
        TranscriptSegment.objects.bulk_create(
            [
                TranscriptSegment(
                    creator_id=v.creator_id,
                    video=v,
                    index=i,
                    start=float(start),
                    end=float(end),
                    text=text,
                    speaker=speaker or "",
                )
                for i, (start, end, text, speaker) in enumerate(rows)
            ],
            batch_size=1000,
        )
        v.transcript_source = source
        v.language = language or ""
        fields = ["transcript_source", "language", *_end_stage_fields(v, "transcribe")]
        v.save(update_fields=fields)
    video_cost_update(video)


def _whisper_can_take(path: Path) -> bool:
    from videos.transcribers import WHISPER_EXTENSIONS, WHISPER_MAX_BYTES

    ext = path.suffix.lower().lstrip(".")
    return path.stat().st_size <= WHISPER_MAX_BYTES and ext in WHISPER_EXTENSIONS


def stage_chunk(video: Video, beat: Heartbeat) -> None:
    """VideoChunk + SegmentWindow rows from the segments (replacing any)."""
    from videos.providers import PipelineError

    segments = list(TranscriptSegment.objects.filter(video=video).order_by("index"))
    if not segments:
        raise PipelineError("The transcript is empty, so there is nothing to index. Retry.")
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        chunks_replace(video=v, segments=segments)
        v.save(update_fields=_end_stage_fields(v, "chunk"))


def chunks_replace(*, video: Video, segments: list[TranscriptSegment]) -> list[VideoChunk]:
    """Replace `video`'s chunks and windows with those cut from `segments` (ordered by
    index): videos.chunking rules, windows of 3 segments inside each chunk. Postings and
    lexeme frequencies follow by trigger. Call inside a transaction. Returns the chunks."""
    from videos.chunking import chunk_segments, windows_for_chunks

    specs = chunk_segments(segments)
    SegmentWindow.objects.filter(video=video).delete()
    VideoChunk.objects.filter(video=video).delete()
    chunks = VideoChunk.objects.bulk_create(
        [
            VideoChunk(
                creator_id=video.creator_id,
                video=video,
                chunk_index=i,
                text=c.text,
                start=c.start,
                end=c.end,
                word_count=c.word_count,
                first_segment_index=c.first_segment_index,
                last_segment_index=c.last_segment_index,
            )
            for i, c in enumerate(specs)
        ]
    )
    SegmentWindow.objects.bulk_create(
        [
            SegmentWindow(
                creator_id=video.creator_id,
                video=video,
                chunk=chunks[w.chunk_position],
                first_segment_index=w.first_segment_index,
                last_segment_index=w.last_segment_index,
                start=w.start,
                end=w.end,
                text=w.text,
            )
            for w in windows_for_chunks(segments, specs)
        ],
        batch_size=1000,
    )
    return chunks


def stage_embed(video: Video, beat: Heartbeat) -> None:
    """Embed chunk and window texts with the active embedder (skipped when none), then mark
    the video completed and total its cost."""
    from videos.embedders import get_embedder

    embedder = get_embedder()
    if embedder is not None:
        embed_video(video, embedder, progress=beat.beat)
    with transaction.atomic():
        v = _lock(video.pk, video.attempts)
        v.status = Video.Status.COMPLETED
        v.stage = "done"
        v.error = ""
        fields = ["status", "stage", "error", *_end_stage_fields(v, "embed")]
        v.save(update_fields=fields)
    video_cost_update(video)
    from videos.signals import library_changed

    library_changed.send(sender=Video, creator_id=video.creator_id)


# Texts per embedding call made by embed_video (the embedder batches further by tokens).
EMBED_GROUP = 500


def embed_video(video: Video, embedder, *, progress: Callable[[float], None] | None = None) -> int:
    """Embed every chunk and window of `video` whose embedding_model differs from
    `embedder.model_name` (all of them after re-chunking). Returns the number of texts
    embedded. Used by the embed stage and `manage.py reembed`.

    With CHRONOS_EMBEDDER_WINDOWS=cues the local model gets each window as its cues'
    texts and encodes every cue once (videos.embedders.LocalEmbedder.embed_passages);
    otherwise each window's text is embedded whole."""
    from videos.embedders import windows_from_cues

    chunks = list(
        VideoChunk.objects.filter(video=video)
        .exclude(embedding_model=embedder.model_name, embedding__isnull=False)
        .only("id", "text")
    )
    windows = list(
        SegmentWindow.objects.filter(video=video)
        .exclude(embedding_model=embedder.model_name, embedding__isnull=False)
        .only("id", "text", "first_segment_index", "last_segment_index")
    )
    by_parts = embedder.embed_passages if windows_from_cues(embedder) else None
    cue_text: dict[int, str] = {}
    if by_parts is not None and windows:
        cue_text = dict(TranscriptSegment.objects.filter(video=video).values_list("index", "text"))
    items: list = [*chunks, *windows]
    total = len(items)
    done = 0
    for i in range(0, total, EMBED_GROUP):
        group = items[i : i + EMBED_GROUP]
        if by_parts is not None:
            vectors = by_parts(
                [_parts(it, cue_text) for it in group],
                creator=video.creator,
                subject=subject_for(video),
            )
        else:
            vectors = embedder.embed(
                [it.text for it in group], creator=video.creator, subject=subject_for(video)
            )
        for it, vec in zip(group, vectors, strict=True):
            it.embedding = vec
            it.embedding_model = embedder.model_name
        with transaction.atomic():
            c_items = [it for it in group if isinstance(it, VideoChunk)]
            w_items = [it for it in group if isinstance(it, SegmentWindow)]
            if c_items:
                VideoChunk.objects.bulk_update(c_items, ["embedding", "embedding_model"])
            if w_items:
                SegmentWindow.objects.bulk_update(w_items, ["embedding", "embedding_model"])
        done += len(group)
        if progress:
            progress(done / total)
    return total


def _parts(item, cue_text: dict[int, str]) -> list[str]:
    """A window's non-empty cue texts in order (what its text joins), else [item.text]."""
    if isinstance(item, SegmentWindow):
        span = range(item.first_segment_index, item.last_segment_index + 1)
        parts = [cue_text[k].strip() for k in span if cue_text.get(k, "").strip()]
        if parts:
            return parts
    return [item.text]


STAGE_FUNCS = {
    "probe": stage_probe,
    "transcribe": stage_transcribe,
    "chunk": stage_chunk,
    "embed": stage_embed,
}
