"""`python manage.py ask --creator SLUG "question" [--session ID] [--course ID] [--video ID ...]
[--json]`.

Answers from the creator's processed videos with the configured answerer, inside a chat
session (the creator owner's: the same path as the chat page), so follow-ups can be
scripted: --session ID continues that session (its history resolves "why?" or "that").
--json prints exactly one JSON object {answer, citations: [{video_id, video_title, start,
end, quote, score}], covered, nearest, session_id} on stdout and nothing else (logs go to
stderr); nearest: with covered false, the closest moments the videos come to the question
(the citations' keys), offered rather than cited.
A creator without an owner is answered without a session (session_id null).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from billing.models import QuestionUsage
from chat.formatting import format_timestamp
from chat.models import ChatSession
from chat.services import chat_ask, question_answer
from chronos.errors import DomainError
from creators.models import Creator

CITATION_KEYS = ("video_id", "video_title", "start", "end", "quote", "score")


class Command(BaseCommand):
    help = "Ask a creator's videos a question; prints the answer with cited moments."

    def add_arguments(self, parser):
        parser.add_argument("question", help="the question, in quotes")
        parser.add_argument("--creator", required=True, help="the creator's handle (slug)")
        parser.add_argument("--course", type=int, default=None, help="limit to a course id")
        parser.add_argument(
            "--video", type=int, action="append", default=None, help="limit to video id(s)"
        )
        parser.add_argument(
            "--session", type=int, default=None, help="continue this chat session (its id)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def _ask(self, creator, opts):
        """(answer with .answer/.citations/.covered, session id or None)."""
        user = creator.owner
        if opts["session"] is not None:
            session = ChatSession.objects.filter(creator=creator, pk=opts["session"]).first()
            if session is None:
                raise CommandError(f"No chat session {opts['session']} for this creator.")
            user = session.user
        if user is None:
            answer = question_answer(
                creator=creator,
                question=opts["question"],
                course_id=opts["course"],
                video_ids=opts["video"],
            )
            return answer, None
        result = chat_ask(
            user=user,
            creator=creator,
            message=opts["question"],
            session_id=opts["session"],
            course_id=opts["course"],
            video_ids=opts["video"],
            source=QuestionUsage.Source.CLI,
        )
        return result, result.session_id

    def handle(self, *args, **opts):
        creator = Creator.objects.filter(handle=opts["creator"]).first()
        if creator is None:
            raise CommandError(f"No creator with handle {opts['creator']!r}.")
        try:
            answer, session_id = self._ask(creator, opts)
        except DomainError as exc:  # bad input, empty library, provider outage, not found
            raise CommandError(" ".join(exc.messages)) from exc
        citations = [{k: c.get(k) for k in CITATION_KEYS} for c in answer.citations]
        nearest = [{k: c.get(k) for k in CITATION_KEYS} for c in answer.nearest]
        if opts["json"]:
            payload = {
                "answer": answer.answer,
                "citations": citations,
                "covered": answer.covered,
                "nearest": nearest,
                "session_id": session_id,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(answer.answer)
        if citations:
            self.stdout.write("")
            for n, c in enumerate(answer.citations, start=1):
                self.stdout.write(f"[{c.get('n', n)}] {_moment_line(c)}")
        if nearest:
            self.stdout.write("")
            self.stdout.write("The closest the videos come:")
            for c in nearest:
                self.stdout.write(f"- {_moment_line(c)}")


def _moment_line(c: dict) -> str:
    """'Title 1:02-1:20 (video 3, score 0.84)' for a citation dict (start/end in seconds)."""
    return (
        f"{c['video_title']} {format_timestamp(c['start'])}-{format_timestamp(c['end'])} "
        f"(video {c['video_id']}, score {c['score']:.2f})"
    )
