"""Top-level routes. Creator area: /studio/<handle>/..., student area: /learn/<handle>/...,
REST: /api/v1/..., Whop webhooks: /webhooks/whop/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from creators import views as creator_views

urlpatterns = [
    # First: Django tries patterns in order, and the API's hot routes (player heartbeats,
    # POST /api/v1/watch-events/) then skip matching every page route.
    path("api/v1/", include("chronos.api_urls")),
    path("", creator_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("creators.urls")),
    path("", include("videos.urls")),
    path("", include("courses.urls")),
    path("", include("chat.urls")),
    path("", include("analytics.urls")),
    path("", include("billing.urls")),
    # OpenAPI 3 (drf-spectacular); the docs page loads its script from a URL, not inline (CSP)
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
