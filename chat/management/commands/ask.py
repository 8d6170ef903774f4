"""`python manage.py ask --creator SLUG "question" [--course ID] [--video ID ...] [--json]`.

Answers from the creator's processed videos with the configured answerer. --json prints
exactly one JSON object {answer, citations: [{video_id, video_title, start, end, quote,
score}], covered} on stdout and nothing else (logs go to stderr).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from chat.formatting import format_timestamp
from chat.services import question_answer
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
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts):
        creator = Creator.objects.filter(handle=opts["creator"]).first()
        if creator is None:
            raise CommandError(f"No creator with handle {opts['creator']!r}.")
        try:
            answer = question_answer(
                creator=creator,
                question=opts["question"],
                course_id=opts["course"],
                video_ids=opts["video"],
            )
        except DomainError as exc:  # bad input, empty library, provider outage
            raise CommandError(" ".join(exc.messages)) from exc
        citations = [{k: c.get(k) for k in CITATION_KEYS} for c in answer.citations]
        if opts["json"]:
            payload = {"answer": answer.answer, "citations": citations, "covered": answer.covered}
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(answer.answer)
        if citations:
            self.stdout.write("")
            for n, c in enumerate(answer.citations, start=1):
                self.stdout.write(
                    f"[{c.get('n', n)}] {c['video_title']} "
                    f"{format_timestamp(c['start'])}-{format_timestamp(c['end'])} "
                    f"(video {c['video_id']}, score {c['score']:.2f})"
                )
