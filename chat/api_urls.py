"""Chat REST routes (included under /api/v1/ by chronos/api_urls.py)."""

from django.urls import path

from chat import api

urlpatterns = [
    path("chat", api.chat_endpoint, name="chat-ask"),
    path("chat/sessions", api.sessions_list, name="chat-sessions"),
    path("chat/sessions/<int:session_id>", api.session_detail, name="chat-session"),
    path(
        "chat/sessions/<int:session_id>/messages",
        api.session_messages,
        name="chat-session-messages",
    ),
    path(
        "chat/sessions/<int:session_id>/export",
        api.session_export_view,
        name="chat-session-export",
    ),
]
