"""The student's pages under /learn/<handle>/: catalog, course, lesson, captions, notes;
enrollment on first visit; locks explained; query counts that do not grow with lessons."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courses import services
from courses.models import Enrollment, LessonNote
from courses.watch_tickets import watch_ticket_holder
from tests.courses_support import make_course
from videos.models import TranscriptSegment

HTMX = {"HTTP_HX_REQUEST": "true"}


def u(name, creator, **kwargs):
    return reverse(f"courses:{name}", kwargs={"handle": creator.handle, **kwargs})


def test_catalog_replaces_the_chat_home(student_client, creator):
    course, _lessons = make_course(creator)
    make_course(creator, published=False)
    html = student_client.get(f"/learn/{creator.handle}/").content.decode()
    assert "Your courses" in html and course.title in html and "Start" in html
    assert "Draft" not in html
    assert reverse("chat:home", kwargs={"handle": creator.handle}) in html
    assert (
        student_client.get(reverse("chat:home", kwargs={"handle": creator.handle})).status_code
        == 200
    )


def test_course_page_enrolls_and_explains_locks(student_client, student, creator):
    course, lessons = make_course(creator, sequential=True)
    services.lesson_update(lesson=lessons[2], drip_days=3, is_preview=False)
    assert not Enrollment.objects.exists()
    html = student_client.get(u("course", creator, pk=course.pk)).content.decode()
    enrollment = Enrollment.objects.get(user=student, course=course)
    assert enrollment.creator_id == creator.pk and enrollment.is_active
    assert f"Complete “{lessons[0].title}” first" in html
    assert "Unlocks" in html  # the drip lesson says when
    assert "Start: " + lessons[0].title in html
    # The locked lesson's page explains instead of playing; its captions are refused.
    locked = student_client.get(u("lesson", creator, pk=course.pk, lesson_id=lessons[1].pk))
    assert locked.status_code == 200 and "<video" not in locked.content.decode()
    assert "finish “" in locked.content.decode()
    assert (
        student_client.get(
            u("captions", creator, pk=course.pk, lesson_id=lessons[1].pk)
        ).status_code
        == 404
    )


def test_membership_end_keeps_the_enrollment_with_access_off(
    student_client, student, creator, django_capture_on_commit_callbacks
):
    from creators.models import Membership

    course, _ = make_course(creator)
    student_client.get(u("course", creator, pk=course.pk))
    membership = Membership.objects.get(user=student, creator=creator)
    with django_capture_on_commit_callbacks(execute=True):
        membership.status = Membership.Status.CANCELED
        membership.save()
    enrollment = Enrollment.objects.get(user=student, course=course)
    assert enrollment.is_active is False
    assert student_client.get(u("course", creator, pk=course.pk)).status_code == 404


def test_lesson_page_captions_and_notes(student_client, student, creator):
    course, lessons = make_course(creator)
    lesson = lessons[0]
    TranscriptSegment.objects.create(
        creator=creator, video=lesson.video, index=0, start=0, end=2.5, text="Hello <candle>"
    )
    TranscriptSegment.objects.create(
        creator=creator, video=lesson.video, index=1, start=2.5, end=6, text="The wick & wax."
    )
    html = student_client.get(
        u("lesson", creator, pk=course.pk, lesson_id=lesson.pk)
    ).content.decode()
    assert "<video" in html and 'kind="captions"' in html and "lesson-player.js" in html
    assert "Next lesson" in html and "<script>" not in html
    # The player's watch ticket speaks for this student's session only.
    ticket = re.search(r'data-watch-ticket="([^"]+)"', html).group(1)
    session_key = student_client.cookies["sessionid"].value
    holder = watch_ticket_holder(ticket, session_key=session_key)
    assert holder is not None and holder.user_id == student.pk
    vtt = student_client.get(u("captions", creator, pk=course.pk, lesson_id=lesson.pk))
    assert vtt["Content-Type"].startswith("text/vtt")
    assert (
        vtt.content.decode().startswith("WEBVTT")
        and "00:00:02.500 --> 00:00:06.000" in vtt.content.decode()
    )
    assert "Hello &lt;candle&gt;" in vtt.content.decode()
    add = u("note_add", creator, pk=course.pk, lesson_id=lesson.pk)
    r = student_client.post(add, {"text": "Capillary action!", "position": "42.5"}, **HTMX)
    assert (
        r.status_code == 200
        and "Capillary action!" in r.content.decode()
        and "0:42" in r.content.decode()
    )
    note = LessonNote.objects.get(user=student)
    assert (note.position, note.creator_id, note.lesson_id) == (42.5, creator.pk, lesson.pk)
    assert student_client.post(add, {"text": "", "position": "1"}, **HTMX).status_code == 400
    student_client.post(
        u("note_edit", creator, pk=course.pk, lesson_id=lesson.pk, note_id=note.pk),
        {"text": "Edited"},
        **HTMX,
    )
    assert LessonNote.objects.get(pk=note.pk).text == "Edited"
    student_client.post(
        u("note_delete", creator, pk=course.pk, lesson_id=lesson.pk, note_id=note.pk), **HTMX
    )
    assert not LessonNote.objects.exists()


def test_notes_are_private(client, creator, student):
    from tests.factories import MembershipFactory

    course, lessons = make_course(creator)
    note = services.note_create(user=student, lesson=lessons[0], text="mine", position=3)
    other = MembershipFactory(creator=creator).user
    client.force_login(other)
    url = u("note_delete", creator, pk=course.pk, lesson_id=lessons[0].pk, note_id=note.pk)
    assert client.post(url).status_code == 404
    html = client.get(u("lesson", creator, pk=course.pk, lesson_id=lessons[0].pk)).content.decode()
    assert "mine" not in html


def _counts(client, urls) -> list[int]:
    counts = []
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx))
    return counts


def test_page_queries_do_not_grow_with_lessons(student_client, student, creator):
    from tests.courses_support import make_video

    course, lessons = make_course(creator, modules=(("A", 1), ("B", 1)))
    make_course(creator, modules=(("C", 1),))
    services.enrollment_ensure(user=student, course=course)
    services.note_create(user=student, lesson=lessons[0], text="n", position=1)
    pages = [
        f"/learn/{creator.handle}/",
        u("course", creator, pk=course.pk),
        u("lesson", creator, pk=course.pk, lesson_id=lessons[0].pk),
    ]
    before = _counts(student_client, pages)
    for lesson in lessons:
        for i in range(4):
            video = make_video(creator, f"extra {lesson.pk}-{i}")
            services.lesson_create(module=lesson.module, video_id=video.pk)
            services.note_create(user=student, lesson=lessons[0], text=f"n{i}", position=i)
    assert _counts(student_client, pages) == before
    assert max(before) <= 20, before
