"""REST routes of the courses app, included under /api/v1/ by chronos/api_urls.py."""

from django.urls import path

from courses import api

urlpatterns = [
    path("courses/", api.course_list, name="api-courses"),
    path("courses/<int:pk>/", api.course_detail, name="api-course"),
    path("courses/<int:pk>/modules/", api.module_list, name="api-course-modules"),
    path("courses/<int:pk>/order/", api.course_order, name="api-course-order"),
    path("courses/<int:pk>/outline/", api.course_outline, name="api-course-outline"),
    path("modules/<int:pk>/", api.module_detail, name="api-module"),
    path("modules/<int:pk>/lessons/", api.lesson_list, name="api-module-lessons"),
    path("lessons/<int:pk>/", api.lesson_detail, name="api-lesson"),
    path("watch-events/", api.watch_events, name="api-watch-events"),
]
