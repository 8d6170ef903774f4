"""A session as a download: Markdown or JSON."""

from __future__ import annotations

import json

from django.utils import timezone

from chat.formatting import format_timestamp
from chat.models import ChatMessage
from chat.selectors import messages_for_session, session_get
from chronos.errors import DomainError
from creators.models import Creator, User


def session_export(
    *, user: User, creator: Creator, session_id: int, fmt: str = "markdown"
) -> tuple[str, str]:
    """(content, content_type) of the user's session.

    fmt: "markdown"/"md" -> text/markdown; "json" -> application/json with
    {"session": {...}, "messages": [{id, role, content, citations, covered, nearest, model,
    created_at}]} (a student's own words and answers: no token counts, costs or latency,
    which are the creator's business). DomainError for another format;
    NotFound if the session is not theirs."""
    fmt = (fmt or "markdown").lower()
    if fmt not in ("markdown", "md", "json"):
        raise DomainError.for_field("format", "Export format must be 'md' or 'json'.")
    session = session_get(user=user, creator=creator, session_id=session_id)
    messages = list(messages_for_session(session=session))
    if fmt == "json":
        data = {
            "session": {
                "id": session.pk,
                "title": session.title,
                "creator": creator.handle,
                "course_id": session.course_id,
                "video_ids": session.video_ids,
                "created_at": session.created_at.isoformat(),
                "updated_at": session.updated_at.isoformat(),
            },
            "messages": [
                {
                    "id": m.pk,
                    "role": m.role,
                    "content": m.content,
                    "citations": m.citations,
                    "covered": m.covered,
                    "nearest": m.nearest,
                    "model": m.model,
                    "created_at": m.created_at.isoformat(),
                }
                for m in messages
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False), "application/json"
    lines = [
        f"# {session.title or 'Chat'}",
        "",
        f"{creator.company_name} · exported {timezone.now():%Y-%m-%d %H:%M} UTC",
        "",
    ]
    for m in messages:
        who = "You" if m.role == ChatMessage.Role.USER else "Tutor"
        lines += [f"## {who} ({m.created_at:%Y-%m-%d %H:%M})", "", m.content, ""]
        for heading, moments in (("Sources:", m.citations), ("Closest moments:", m.nearest)):
            if not moments:
                continue
            lines.append(heading)
            for c in moments:
                marker = f"[{c['n']}] " if c.get("n") else ""
                quote = " ".join(str(c.get("quote", "")).split())
                lines.append(
                    f"- {marker}{c.get('video_title', '')} at {format_timestamp(c.get('start'))}"
                    f" — \u201c{quote}\u201d"
                )
            lines.append("")
    return "\n".join(lines), "text/markdown; charset=utf-8"
