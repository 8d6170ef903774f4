"""REST routes under /api/v1/, one include per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("videos.api_urls")),
    path("", include("chat.api_urls")),
    path("", include("courses.api_urls")),
    path("", include("analytics.api_urls")),
    path("", include("billing.api_urls")),
]
