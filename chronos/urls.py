"""Top-level routes. Creator area: /studio/<handle>/..., student area: /learn/<handle>/...,
REST: /api/v1/..., Whop webhooks: /webhooks/whop/."""

from django.contrib import admin
from django.urls import include, path

from creators import views as creator_views

urlpatterns = [
    path("", creator_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("creators.urls")),
    path("", include("videos.urls")),
    path("", include("courses.urls")),
    path("", include("chat.urls")),
    path("", include("analytics.urls")),
    path("", include("billing.urls")),
    path("api/v1/", include("chronos.api_urls")),
]
