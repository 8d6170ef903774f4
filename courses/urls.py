"""Course pages: the creator's builder under /studio/<handle>/courses/ and the student's
catalog, course and lesson pages under /learn/<handle>/."""

from django.urls import path

from courses import views

app_name = "courses"

S = "studio/<slug:handle>/courses/"
C = S + "<int:pk>/"
L = "learn/<slug:handle>/courses/<int:pk>/"
LL = L + "lessons/<int:lesson_id>/"
urlpatterns = [
    path(S, views.studio, name="studio"),
    path(S + "new/", views.course_create_view, name="create"),
    path(C, views.builder, name="builder"),
    path(C + "settings/", views.course_settings, name="settings"),
    path(C + "delete/", views.course_delete_view, name="delete"),
    path(C + "order/", views.order, name="order"),
    path(C + "modules/", views.module_add, name="module_add"),
    path(C + "modules/<int:module_id>/rename/", views.module_rename, name="module_rename"),
    path(C + "modules/<int:module_id>/delete/", views.module_delete_view, name="module_delete"),
    path(C + "modules/<int:module_id>/move/", views.module_move_view, name="module_move"),
    path(C + "modules/<int:module_id>/picker/", views.picker, name="picker"),
    path(C + "modules/<int:module_id>/lessons/", views.lesson_add, name="lesson_add"),
    path(C + "lessons/<int:lesson_id>/edit/", views.lesson_edit, name="lesson_edit"),
    path(C + "lessons/<int:lesson_id>/delete/", views.lesson_delete_view, name="lesson_delete"),
    path(C + "lessons/<int:lesson_id>/move/", views.lesson_move_view, name="lesson_move"),
    path(
        "studio/<slug:handle>/videos/<int:video_id>/lessons/",
        views.video_lessons,
        name="video_lessons",
    ),
    path("media/courses/<int:pk>/thumbnail/", views.thumbnail, name="thumbnail"),
    # The student's side.
    path("learn/<slug:handle>/", views.catalog, name="learn"),
    # The same page under the name creators' Whop views link to.
    path("learn/<slug:handle>/", views.catalog, name="catalog"),
    path(L, views.course_page, name="course"),
    path(LL, views.lesson_page, name="lesson"),
    path(LL + "captions.vtt", views.captions, name="captions"),
    path(LL + "notes/", views.note_add, name="note_add"),
    path(LL + "notes/<int:note_id>/edit/", views.note_edit, name="note_edit"),
    path(LL + "notes/<int:note_id>/delete/", views.note_delete, name="note_delete"),
]
