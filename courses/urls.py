"""Course pages: the creator's builder under /studio/<handle>/courses/ and the student's
catalog, course and lesson pages under /learn/<handle>/."""

from django.urls import path

from courses import views

app_name = "courses"
urlpatterns = [
    path("media/courses/<int:pk>/thumbnail/", views.thumbnail, name="thumbnail"),
]
