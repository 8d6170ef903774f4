"""`manage.py ingest` and `manage.py seed_demo` as a user runs them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from creators.models import Creator, Membership, User
from videos.models import Video

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_ingest_wait_processes_and_prints_counts(creator, data_dir):
    out, err = run(
        "ingest",
        str(data_dir / "faraday-candle-1-excerpt.mp4"),
        "--captions",
        str(data_dir / "faraday-candle-1-excerpt.vtt"),
        "--creator",
        creator.handle,
        "--title",
        "Candle, part 1",
        "--wait",
    )
    video = Video.objects.get()
    assert video.title == "Candle, part 1" and video.status == Video.Status.COMPLETED
    assert "status completed" in out and "15 segments" in out and "1 chunks" in out
    for stage in ("Probe", "Transcribe", "Chunk", "Embed"):  # a full bar per stage
        assert any(stage in ln and "100%" in ln for ln in err.replace("\r", "\n").splitlines())


def test_ingest_bad_file_exits_non_zero_and_stores_nothing(creator, tmp_path):
    fake = tmp_path / "lecture.mp4"
    fake.write_text("not really a video\n" * 20)
    with pytest.raises(CommandError, match="detected: text file"):
        run("ingest", str(fake), "--creator", creator.handle, "--wait")
    assert not Video.objects.exists()


def test_ingest_failure_later_exits_non_zero(creator, data_dir, settings):
    settings.CHRONOS_TRANSCRIBER = "whisper"
    settings.OPENAI_API_KEY = ""
    with pytest.raises(CommandError, match=r"failed: .*OPENAI_API_KEY"):
        run("ingest", str(data_dir / "jfk.flac"), "--creator", creator.handle, "--wait")
    assert Video.objects.get().status == Video.Status.FAILED


def test_ingest_unknown_creator_and_create_creator(data_dir):
    with pytest.raises(CommandError, match="--create-creator"):
        run("ingest", str(data_dir / "jfk.flac"), "--creator", "newco")
    out, _ = run("ingest", str(data_dir / "jfk.flac"), "--creator", "newco", "--create-creator")
    creator = Creator.objects.get(handle="newco")
    video = Video.objects.get(creator=creator)
    assert f"Queued video {video.pk}" in out


def test_seed_demo_is_idempotent_and_prints_login(_media_root):
    out, _ = run("seed_demo")
    assert "demo@chronos.local / chronos-demo" in out and "/accounts/login/" in out
    demo = Creator.objects.get(handle="demo")
    video = Video.objects.get(creator=demo, original_filename="faraday-candle-1.mp4")
    assert video.status == Video.Status.COMPLETED and video.segments.count() == 232
    student = User.objects.get(email="student@chronos.local")
    assert Membership.objects.active().filter(creator=demo, user=student).exists()
    assert User.objects.get(email="demo@chronos.local").check_password("chronos-demo")

    out2, _ = run("seed_demo")
    assert "already processed" in out2
    assert Video.objects.filter(creator=demo).count() == 2  # Lectures I and II


def test_seed_demo_course(_media_root):
    from courses.models import Course, Enrollment
    from courses.selectors import course_structure

    run("seed_demo")
    demo = Creator.objects.get(handle="demo")
    course = Course.objects.get(creator=demo, title="Faraday's Candle")
    assert course.status == "published" and course.sequential
    modules = course_structure(course=course)
    assert len(modules) == 2
    videos = [ls.video.original_filename for m in modules for ls in m.lesson_list]
    assert videos == ["faraday-candle-1.mp4", "faraday-candle-2.mp4"]
    assert all(ls.video.status == "completed" for m in modules for ls in m.lesson_list)
    student = User.objects.get(email="student@chronos.local")
    assert Enrollment.objects.filter(course=course, user=student, is_active=True).exists()
    run("seed_demo")
    assert Course.objects.filter(creator=demo).count() == 1
    assert (
        User.objects.filter(email__in=["demo@chronos.local", "student@chronos.local"]).count() == 2
    )


def test_seed_demo_moves_the_demo_library_to_the_active_embedder(_media_root, settings):
    """Vectors keep their model: a demo library seeded without vectors (or by an earlier
    model) is re-embedded by the next seed_demo with the active embedder, once."""
    from tests.loopback import loopback_server
    from tests.pipeline_support import embeddings_handler, use_openai
    from videos.models import SegmentWindow, VideoChunk

    run("seed_demo")
    demo = Creator.objects.get(handle="demo")
    assert not VideoChunk.objects.filter(creator=demo, embedding__isnull=False).exists()
    with loopback_server(embeddings_handler) as server:
        use_openai(settings, server)
        out, _ = run("seed_demo")
        assert "Re-embedded" in out and "text-embedding-3-small" in out
        for model in (VideoChunk, SegmentWindow):
            rows = model.objects.filter(creator=demo)
            assert rows.exists()
            assert not rows.exclude(embedding_model="text-embedding-3-small").exists()
        out, _ = run("seed_demo")
        assert "Re-embedded 0 texts in 0 videos" in out
