"""Whop webhooks and the studio team actions (the settings page itself is billing:studio)."""

from django.urls import path

from creators import views

app_name = "creators"
urlpatterns = [
    path("webhooks/whop/", views.whop_webhook, name="whop_webhook"),
    path("studio/<slug:handle>/settings/timezone/", views.timezone_set, name="timezone_set"),
    path("studio/<slug:handle>/settings/team/add/", views.team_add, name="team_add"),
    path(
        "studio/<slug:handle>/settings/team/<int:member_id>/remove/",
        views.team_remove,
        name="team_remove",
    ),
]
