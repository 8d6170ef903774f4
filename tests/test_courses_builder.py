"""The creator's course builder pages (/studio/<handle>/courses/...)."""

from __future__ import annotations

from django.urls import reverse

from chat.models import ChatMessage, ChatSession
from courses import selectors
from courses.models import Course, Lesson, Module
from tests.courses_support import make_course, make_video
from videos.models import VideoChunk

HTMX = {"HTTP_HX_REQUEST": "true"}


def u(name, creator, **kwargs):
    return reverse(f"courses:{name}", kwargs={"handle": creator.handle, **kwargs})


def test_list_empty_state_then_create(owner_client, creator):
    html = owner_client.get(u("studio", creator)).content.decode()
    assert "No courses yet" in html and "Create course" in html
    r = owner_client.post(u("create", creator), {"title": "Candles"})
    course = Course.objects.get(creator=creator)
    assert r.status_code == 302 and r["Location"] == u("builder", creator, pk=course.pk)
    html = owner_client.get(u("studio", creator)).content.decode()
    assert "Candles" in html and "Draft" in html and "0 lessons" in html


def test_builder_edits_through_htmx(owner_client, creator):
    course, lessons = make_course(creator)
    one, two = selectors.course_structure(course=course)
    html = owner_client.get(u("builder", creator, pk=course.pk)).content.decode()
    assert "Sortable.min.js" in html and lessons[0].title in html
    # Drag result: lesson 0 moved to the end of module two, modules swapped.
    items = [
        f"m-{two.pk}",
        f"l-{lessons[2].pk}",
        f"l-{lessons[0].pk}",
        f"m-{one.pk}",
        f"l-{lessons[1].pk}",
    ]
    r = owner_client.post(u("order", creator, pk=course.pk), {"item": items}, **HTMX)
    assert r.status_code == 200 and 'id="outline"' in r.content.decode()
    got = [[ls.pk for ls in m.lesson_list] for m in selectors.course_structure(course=course)]
    assert got == [[lessons[2].pk, lessons[0].pk], [lessons[1].pk]]
    # An order that leaves a lesson out is refused and the outline says why.
    r = owner_client.post(u("order", creator, pk=course.pk), {"item": items[:3]}, **HTMX)
    assert r.status_code == 400 and "Left out" in r.content.decode()
    # Keyboard alternative: move lesson 1 up into module two, then to a module by id.
    owner_client.post(
        u("lesson_move", creator, pk=course.pk, lesson_id=lessons[1].pk),
        {"direction": "up"},
        **HTMX,
    )
    assert Lesson.objects.get(pk=lessons[1].pk).module_id == two.pk
    owner_client.post(
        u("lesson_move", creator, pk=course.pk, lesson_id=lessons[1].pk), {"module": one.pk}, **HTMX
    )
    assert Lesson.objects.get(pk=lessons[1].pk).module_id == one.pk
    owner_client.post(
        u("module_move", creator, pk=course.pk, module_id=one.pk), {"direction": "up"}, **HTMX
    )
    assert [m.pk for m in selectors.course_structure(course=course)] == [one.pk, two.pk]
    # Inline add / rename / edit / delete.
    owner_client.post(u("module_add", creator, pk=course.pk), {"title": "Three"}, **HTMX)
    three = Module.objects.get(course=course, title="Three")
    owner_client.post(
        u("module_rename", creator, pk=course.pk, module_id=three.pk), {"title": "Finale"}, **HTMX
    )
    assert Module.objects.get(pk=three.pk).title == "Finale"
    video = make_video(creator, "Lecture III")
    owner_client.post(
        u("lesson_add", creator, pk=course.pk, module_id=three.pk), {"video_id": video.pk}, **HTMX
    )
    added = Lesson.objects.get(module=three)
    r = owner_client.post(
        u("lesson_edit", creator, pk=course.pk, lesson_id=added.pk),
        {"title": "", "drip_days": "7", "is_preview": "on"},
        **HTMX,
    )
    added.refresh_from_db()
    assert (added.title, added.drip_days, added.is_preview) == ("Lecture III", 7, True)
    assert "Day 7" in r.content.decode() and "Free preview" in r.content.decode()
    r = owner_client.post(
        u("lesson_edit", creator, pk=course.pk, lesson_id=added.pk), {"drip_days": "-2"}, **HTMX
    )
    assert r.status_code == 400
    owner_client.post(u("module_delete", creator, pk=course.pk, module_id=three.pk), **HTMX)
    assert not Lesson.objects.filter(pk=added.pk).exists()


def test_settings_and_video_removed(owner_client, creator):
    course, lessons = make_course(creator, published=False)
    r = owner_client.post(
        u("settings", creator, pk=course.pk),
        {
            "title": "Candles",
            "description": "**Wax** <script>x</script>",
            "status": "published",
            "sequential": "on",
        },
    )
    assert r.status_code == 302
    course.refresh_from_db()
    assert course.status == "published" and course.sequential
    lessons[0].video.delete()
    html = owner_client.get(u("builder", creator, pk=course.pk)).content.decode()
    assert "Video removed" in html


def test_picker_searches_titles_and_transcripts_with_heat(owner_client, creator, student):
    course, lessons = make_course(creator)
    module = lessons[0].module
    spoken = lessons[1].video
    VideoChunk.objects.create(
        creator=creator,
        video=spoken,
        chunk_index=0,
        text="The capillary action of the wick.",
        start=0,
        end=5,
        word_count=6,
        first_segment_index=0,
        last_segment_index=0,
    )
    session = ChatSession.objects.create(creator=creator, user=student, title="q")
    for vid in (spoken.pk, spoken.pk, lessons[0].video_id):
        ChatMessage.objects.create(
            creator=creator,
            session=session,
            role="assistant",
            content="a",
            citations=[{"video_id": vid, "start": 0, "end": 1, "quote": "q"}],
        )
    url = u("picker", creator, pk=course.pk, module_id=module.pk)
    html = owner_client.get(url, **HTMX).content.decode()
    assert "Upload new video" in html and "--heat: 1.00" in html and "--heat: 0.50" in html
    rows = owner_client.get(url + "?rows=1&q=capillary", **HTMX).content.decode()
    assert spoken.title in rows and lessons[0].video.title not in rows
    rows = owner_client.get(url + "?rows=1&q=One lecture 1", **HTMX).content.decode()
    assert lessons[0].video.title in rows


def test_video_page_fragment_lists_lessons(owner_client, creator):
    _course, lessons = make_course(creator)
    url = u("video_lessons", creator, video_id=lessons[0].video_id)
    html = owner_client.get(url).content.decode()
    assert "Used in 1 lesson" in html and lessons[0].title in html
    loose = make_video(creator, "Loose")
    assert owner_client.get(u("video_lessons", creator, video_id=loose.pk)).content.strip() == b""


def test_students_cannot_open_the_builder(student_client, creator):
    course, _ = make_course(creator)
    assert student_client.get(u("studio", creator)).status_code == 404
    assert student_client.get(u("builder", creator, pk=course.pk)).status_code == 404


def test_upload_page_hands_off_only_to_a_marked_view_of_the_same_creator(
    owner_client, creator, other_creator
):
    course, lessons = make_course(creator)
    module = lessons[0].module
    upload = f"/studio/{creator.handle}/videos/upload/"
    then = f"/studio/{creator.handle}/courses/{course.pk}/modules/{module.pk}/lessons/"
    back = f"/studio/{creator.handle}/courses/{course.pk}/"
    html = owner_client.get(upload, {"then": then, "back": back}).content.decode()
    assert f'data-then-url="{then}"' in html and f'href="{back}"' in html
    assert "becomes a lesson" in html
    refused = [
        f"/studio/{other_creator.handle}/courses/{course.pk}/modules/{module.pk}/lessons/",
        f"/studio/{creator.handle}/videos/{lessons[0].video_id}/delete/",  # not marked
        f"https://evil.example{then}",
        f"//evil.example{then}",
        "/no/such/page/",
    ]
    for bad in refused:
        html = owner_client.get(upload, {"then": bad, "back": "https://evil.example/"})
        assert "data-then-url" not in html.content.decode(), bad
        assert "evil.example" not in html.content.decode()
    # The builder's picker links to the upload flow with this module as the target.
    picker = owner_client.get(u("picker", creator, pk=course.pk, module_id=module.pk)).content
    assert b"?then=" in picker and b"Upload new video" in picker


def test_library_delete_buttons_ask_with_the_lessons_using_the_video(owner_client, creator):
    _course, lessons = make_course(creator)
    html = owner_client.get(f"/studio/{creator.handle}/videos/").content.decode()
    url = u("video_lessons", creator, video_id=lessons[0].video_id)
    assert f'data-confirm-lessons="{url}"' in html
    detail = f"/studio/{creator.handle}/videos/{lessons[0].video_id}/"
    assert f'data-confirm-lessons="{url}"' in owner_client.get(detail).content.decode()
