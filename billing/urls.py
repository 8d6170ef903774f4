"""The studio's plan/team/usage page."""

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("studio/<slug:handle>/settings/", views.studio_settings, name="studio"),
]
