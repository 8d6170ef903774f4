"""Billing's REST routes (included under /api/v1/ by chronos.api_urls)."""

from django.urls import path

from billing import api

urlpatterns = [
    path("usage/", api.usage, name="api_usage"),
]
