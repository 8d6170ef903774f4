"""Creator video pages under /studio/<handle>/videos/ and the access-checked media routes.

Media is never served from MEDIA_URL: /media/videos/<pk>/... goes through the viewer check.
"""

from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("studio/<slug:handle>/", views.studio_home, name="studio_home"),
    path("studio/<slug:handle>/videos/", views.library, name="library"),
    path("studio/<slug:handle>/videos/rows/", views.rows, name="rows"),
    path("studio/<slug:handle>/videos/upload/", views.upload, name="upload"),
    path(
        "studio/<slug:handle>/videos/upload/received/",
        views.upload_received,
        name="upload_received",
    ),
    path("studio/<slug:handle>/videos/<int:pk>/", views.detail, name="detail"),
    path("studio/<slug:handle>/videos/<int:pk>/edit/", views.edit, name="edit"),
    path("studio/<slug:handle>/videos/<int:pk>/retry/", views.retry, name="retry"),
    path("studio/<slug:handle>/videos/<int:pk>/delete/", views.delete, name="delete"),
    path("media/videos/<int:pk>/file/", views.stream, name="stream"),
    path("media/videos/<int:pk>/thumbnail.jpg", views.thumbnail, name="thumbnail"),
]
