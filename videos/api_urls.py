"""REST routes of the videos app, included under /api/v1/ by chronos/api_urls.py."""

from django.urls import path

from videos import api, upload_api

urlpatterns = [
    path("videos/", api.video_list, name="api-videos"),
    path("videos/<int:pk>/", api.video_detail, name="api-video"),
    path("videos/<int:pk>/retry/", api.video_retry, name="api-video-retry"),
    path("videos/<int:pk>/transcript/", api.video_transcript, name="api-video-transcript"),
    # Direct-to-bucket uploads (S3 mode): videos.upload_api
    path("uploads/", upload_api.upload_start, name="api-uploads"),
    path("uploads/<int:pk>/", upload_api.upload_detail, name="api-upload"),
    path("uploads/<int:pk>/parts/", upload_api.upload_parts, name="api-upload-parts"),
    path("uploads/<int:pk>/complete/", upload_api.upload_complete, name="api-upload-complete"),
]
