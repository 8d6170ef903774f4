"""Real lecture material for the chat tests: the caption-backed Faraday lectures.

`ingest_lecture(creator, name)` runs the real pipeline (videos.services.video_create with
the .vtt, stage tasks executed synchronously); `build_rows` makes a completed video straight
from a cue list (segments = cues, chunks and windows by the pipeline's chunks_replace) for
tests that need made-up transcripts or no media.
`cues(name)` is the truth: the exact cue list of each lecture.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LECTURES = {
    "faraday-1": ROOT / "videos" / "demo" / "faraday-candle-1",
    "faraday-2": ROOT / "tests" / "data" / "faraday-candle-2",
}
# Caption-only lectures (real captions, no media here): their cues come from the .vtt.
CAPTION_LECTURES = {
    "mit1690": (
        ROOT / "tests" / "data" / "mit1690-session-1.vtt",
        "MIT 16.90 Computational Methods in Aerospace Engineering - Session 1",
    ),
    "infovis": (
        ROOT / "tests" / "data" / "coursera-infovis-intro.vtt",
        "Information Visualization Specialization - Introduction",
    ),
}
# The development question set (bench/qa.py, tests/test_qa_set.py): one file per lecture.
QA_DIR = ROOT / "tests" / "data" / "qa"


@cache
def cues(name: str) -> list[dict]:
    """[{index, start, end, text}] for a lecture (seconds)."""
    if name in CAPTION_LECTURES:
        from videos.captions import parse_captions

        path = CAPTION_LECTURES[name][0]
        parsed = parse_captions(path.read_bytes(), filename=path.name)
        return [
            {"index": i, "start": float(c.start), "end": float(c.end), "text": c.text}
            for i, c in enumerate(parsed)
        ]
    return json.loads(LECTURES[name].with_suffix(".json").read_text())["cues"]


def title(name: str) -> str:
    if name in CAPTION_LECTURES:
        return CAPTION_LECTURES[name][1]
    return json.loads(LECTURES[name].with_suffix(".json").read_text())["title"]


def qa_questions(source: Path | None = None) -> list[dict]:
    """A question set: [{id, video, question, start, end, kind?, follows?}] from every *.json
    file of `source` (a directory, or one file; default QA_DIR, the development set).
    video/start/end are null for out-of-scope questions."""
    source = source or QA_DIR
    out: list[dict] = []
    for path in sorted(source.glob("*.json")) if source.is_dir() else [source]:
        out.extend(json.loads(path.read_text()))
    return out


def caption_lectures_add(directory: Path, names: set[str]) -> None:
    """Register the caption file (.vtt or .srt) of `directory` named after each of `names`
    (a question's `video`: `mylecture.vtt` is "mylecture") as a caption-only lecture titled
    by that name, for measuring the tutor on lectures outside tests/data (bench/qa.py
    --captions). Names the project already knows keep their lecture. Raises ValueError for
    a name with no caption file, or with two (`x.vtt` and `x.srt`)."""
    for name in sorted(names - set(LECTURES) - set(CAPTION_LECTURES)):
        found = [p for p in (directory / f"{name}.vtt", directory / f"{name}.srt") if p.exists()]
        if len(found) != 1:
            raise ValueError(f"lecture {name!r}: expected one of {name}.vtt, {name}.srt "
                             f"in {directory}, found {len(found)}")  # fmt: skip
        CAPTION_LECTURES[name] = (found[0], name)


def ingest_lecture(creator, name: str, *, title_override: str | None = None):
    """A completed Video of `creator` with segments, chunks and windows for lecture `name`."""
    from videos.services import video_create

    base = LECTURES[name]
    # Outside a test transaction (module fixtures) on_commit callbacks run at once and
    # django-q2 is synchronous in tests, so the whole pipeline runs here.
    with base.with_suffix(".mp4").open("rb") as f, base.with_suffix(".vtt").open("rb") as c:
        video = video_create(
            creator=creator,
            file=f,
            filename=base.with_suffix(".mp4").name,
            title=title_override or title(name),
            captions=c,
            captions_filename=base.with_suffix(".vtt").name,
        )
    video.refresh_from_db()
    assert video.status == "completed", (video.status, video.error)
    return video


def build_rows(creator, name: str, *, title_override: str | None = None, cue_list=None):
    """A completed video built from cues without media processing: its segments are the
    cues, and its chunks and windows come from the pipeline's own chunks_replace."""
    from django.db import transaction

    from videos.models import TranscriptSegment, Video
    from videos.pipeline import chunks_replace

    cue_list = cue_list if cue_list is not None else cues(name)
    video = Video.objects.create(
        creator=creator,
        title=title_override or title(name),
        status=Video.Status.COMPLETED,
        duration_seconds=cue_list[-1]["end"] if cue_list else 0,
        transcript_source=Video.TranscriptSource.CAPTIONS,
    )
    segments = TranscriptSegment.objects.bulk_create(
        [
            TranscriptSegment(
                creator=creator,
                video=video,
                index=c["index"],
                start=c["start"],
                end=c["end"],
                text=c["text"],
            )
            for c in cue_list
        ]
    )
    with transaction.atomic():
        chunks_replace(video=video, segments=segments)
    return video


class Library:
    """A creator with both Faraday lectures, an owner and a student (committed rows)."""

    def __init__(self, creator, student, videos: dict):
        self.creator = creator
        self.student = student
        self.videos = videos  # lecture name -> Video

    def cue(self, name: str, index: int) -> dict:
        return next(c for c in cues(name) if c["index"] == index)


def make_library(django_db_blocker, *, handle: str = "faraday"):
    """Build a Library outside the per-test transactions; pair with drop_library()."""
    from chat.retrieval import calibration_ensure
    from tests.factories import CreatorFactory, MembershipFactory

    with django_db_blocker.unblock():
        # A paid tier: module-scoped tests share one student, who would otherwise use up the
        # free tier's 3 questions (billing.limits); the limits have their own tests.
        creator = CreatorFactory(handle=handle, company_name="Royal Institution", tier="pro")
        student = MembershipFactory(creator=creator).user
        videos = {name: ingest_lecture(creator, name) for name in ("faraday-1", "faraday-2")}
        calibration_ensure(creator=creator)
    return Library(creator, student, videos)


def drop_library(django_db_blocker, library: Library) -> None:
    """Delete the library's rows and media."""
    from videos.models import Video

    with django_db_blocker.unblock():
        try:
            from videos.services import video_delete
        except ImportError:
            video_delete = None
        for video in Video.objects.filter(creator=library.creator):
            if video_delete is not None:
                video_delete(video=video)
            else:
                video.delete()
        owner = library.creator.owner
        library.creator.delete()
        library.student.delete()
        if owner is not None:
            owner.delete()


def library_fixture(handle: str):
    """A module-scoped pytest fixture yielding a committed Library under `handle` (ingested
    once per test module through the real pipeline) and dropping it afterwards."""
    import pytest

    @pytest.fixture(scope="module")
    def lib(django_db_setup, django_db_blocker):
        library = make_library(django_db_blocker, handle=handle)
        yield library
        drop_library(django_db_blocker, library)

    return lib
