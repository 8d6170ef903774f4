"""Analytics REST routes (included under /api/v1/ by chronos/api_urls.py)."""

from django.urls import path

from analytics import api

urlpatterns = [
    path("analytics/overview/", api.overview, name="api-analytics-overview"),
    path(
        "analytics/videos/<int:video_id>/engagement/",
        api.engagement,
        name="api-analytics-engagement",
    ),
    path("analytics/export/", api.export, name="api-analytics-export"),
]
