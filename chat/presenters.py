"""What templates/chat/partials/message.html shows for one message: a dict built from a
stored ChatMessage (history, stream's final event) or from a question that was refused.

Shape: {pk, role ("user"|"assistant"), state ("answered"|"uncovered"|"pending"|"error"|
"limit"), content, html (sanitised answer HTML), citations [chat.citations.enrich_all
dicts (with video_label), start as float seconds], nearest (uncovered turns: the closest
moments, the same dicts), stream_url (pending turns: where the
page's SSE connects), error, retry (the question to put back in the composer), failed (a
user turn that got no answer)}.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from chat.answerers import NOT_COVERED
from chat.citations import enrich_all
from chat.formatting import markdown_to_safe_html
from chat.models import ChatMessage
from chronos.errors import DomainError, RateLimited


def message_view(*, message: ChatMessage, handle: str) -> dict[str, Any]:
    """One stored message as the message partial needs it (`handle`: the creator's, for
    the stream URL of a pending answer)."""
    view: dict[str, Any] = {"pk": message.pk, "role": message.role, "content": message.content}
    if message.role == ChatMessage.Role.USER:
        return view
    if message.status != ChatMessage.Status.DONE:
        view["state"] = "pending"
        view["stream_url"] = reverse(
            "chat:stream",
            kwargs={"handle": handle, "session_id": message.session_id, "message_id": message.pk},
        )
        return view
    view["html"] = markdown_to_safe_html(message.content)
    view["citations"] = _cards(message.citations)
    if message.covered:
        view["state"] = "answered"
    else:
        view["state"] = "uncovered"
        view["nearest"] = _cards(message.nearest)
        # The "not covered" bubble has its own heading; repeat the answer only if it says more.
        view["says_more"] = (message.content or "").strip() != NOT_COVERED
    return view


def _cards(moments: list[dict] | None) -> list[dict[str, Any]]:
    """Stored citation dicts as the cards show them (enrich_all; start as float seconds)."""
    return [{**c, "start": float(c.get("start") or 0)} for c in enrich_all(moments or [])]


def refusal_views(*, question: str, error: DomainError | str) -> list[dict[str, Any]]:
    """A question that got no answer: its bubble (unless empty) and an error bubble that
    gives the question back to the composer. A used-up allowance is a "limit" bubble (the
    friendly message of billing.services.allowances), not an error."""
    message = error.message if isinstance(error, DomainError) else error
    limit = isinstance(error, RateLimited)
    failed = {"role": ChatMessage.Role.ASSISTANT, "state": "limit" if limit else "error"}
    failed.update(error=message, retry=question)
    if not question.strip():
        return [failed]
    return [{"role": ChatMessage.Role.USER, "content": question, "failed": True}, failed]
