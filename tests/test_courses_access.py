"""Locks reach the media stream: a student cannot stream a video that only locked lessons
use; the creator can; a video outside published courses stays open to members."""

from __future__ import annotations

from django.core.files.base import ContentFile

from courses import services
from tests.courses_support import make_course


def _with_file(video, data_dir):
    video.file.save("x.mp4", ContentFile((data_dir / "faraday-candle-1-excerpt.mp4").read_bytes()))
    return video


def test_locked_lesson_video_cannot_be_streamed(client, creator, student, data_dir):
    course, lessons = make_course(creator, sequential=True)
    first, second = (_with_file(ls.video, data_dir) for ls in lessons[:2])
    client.force_login(student)
    assert client.get(f"/media/videos/{first.pk}/file/").status_code == 200
    assert client.get(f"/media/videos/{second.pk}/file/").status_code == 404
    # A preview lesson using the same video opens it.
    services.lesson_update(lesson=lessons[1], is_preview=True)
    assert client.get(f"/media/videos/{second.pk}/file/").status_code == 200
    services.lesson_update(lesson=lessons[1], is_preview=False)
    # The draft course gates nothing: unpublish and the video is open again.
    services.course_update(course=course, status="draft")
    assert client.get(f"/media/videos/{second.pk}/file/").status_code == 200
    services.course_update(course=course, status="published")
    client.force_login(creator.owner)
    assert client.get(f"/media/videos/{second.pk}/file/").status_code == 200
