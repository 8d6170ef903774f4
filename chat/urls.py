"""Student chat pages under /learn/<handle>/chat/ (the streaming API lives in chat/api_urls.py)."""

from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    # /learn/<handle>/ itself is the course catalog (courses.urls); chat is one click away.
    path("learn/<slug:handle>/chat/", views.home, name="home"),
    path("learn/<slug:handle>/chat/ask/", views.ask, name="ask"),
    path("learn/<slug:handle>/chat/sessions/", views.sessions, name="sessions"),
    path("learn/<slug:handle>/chat/<int:session_id>/", views.session_detail, name="session"),
    path(
        "learn/<slug:handle>/chat/<int:session_id>/answers/<int:message_id>/stream/",
        views.stream,
        name="stream",
    ),
    path("learn/<slug:handle>/chat/<int:session_id>/rename/", views.rename, name="rename"),
    path("learn/<slug:handle>/chat/<int:session_id>/delete/", views.delete, name="delete"),
    path("learn/<slug:handle>/chat/<int:session_id>/export/", views.export, name="export"),
]
