"""Creator analytics pages: /studio/<handle>/analytics/..."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("studio/<slug:handle>/analytics/", views.dashboard, name="dashboard"),
    path("studio/<slug:handle>/analytics/export.csv", views.export_csv, name="export"),
    path("studio/<slug:handle>/analytics/students/", views.students, name="students"),
    path("studio/<slug:handle>/analytics/students/<int:user_id>/", views.student, name="student"),
    path("studio/<slug:handle>/analytics/videos/<int:pk>/", views.video, name="video"),
    path("studio/<slug:handle>/analytics/courses/<int:course_id>/", views.course, name="course"),
    path(
        "studio/<slug:handle>/analytics/questions/<int:message_id>/answer/",
        views.answer,
        name="answer",
    ),
]
