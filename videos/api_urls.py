"""REST routes of the videos app, included under /api/v1/ by chronos/api_urls.py."""

from django.urls import path

from videos import api

urlpatterns = [
    path("videos/", api.video_list, name="api-videos"),
    path("videos/<int:pk>/", api.video_detail, name="api-video"),
    path("videos/<int:pk>/retry/", api.video_retry, name="api-video-retry"),
    path("videos/<int:pk>/transcript/", api.video_transcript, name="api-video-transcript"),
]
