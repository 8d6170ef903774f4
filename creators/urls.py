"""Whop webhooks, Whop app views, studio team actions (the settings page itself is
billing:studio), standalone studios and join links."""

from django.urls import path

from creators import views

app_name = "creators"
urlpatterns = [
    path("webhooks/whop/", views.whop_webhook, name="whop_webhook"),
    path("studio/<slug:handle>/settings/timezone/", views.timezone_set, name="timezone_set"),
    # The view paths declared in Whop's developer dashboard (README: "Whop app").
    path("experiences/<str:exp_id>/", views.whop_experience, name="whop_experience"),
    path("dashboard/<str:biz_id>/", views.whop_dashboard, name="whop_dashboard"),
    path("studio/new/", views.studio_new, name="studio_new"),
    path("studio/<slug:handle>/students/", views.invites, name="invites"),
    path(
        "studio/<slug:handle>/students/invites/<int:invite_id>/revoke/",
        views.invite_revoke_view,
        name="invite_revoke",
    ),
    path("join/<str:token>/", views.join, name="join"),
    path("studio/<slug:handle>/settings/team/add/", views.team_add, name="team_add"),
    path(
        "studio/<slug:handle>/settings/team/<int:member_id>/remove/",
        views.team_remove,
        name="team_remove",
    ),
]
