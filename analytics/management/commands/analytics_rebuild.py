"""`manage.py analytics_rebuild [--creator HANDLE]`: rebuild analytics rollups from facts.

Deletes the rollups (watch sessions, question facts, per-student and per-course days) of
one creator, or of every creator, and folds all watch events, lesson progress and chat
questions again. Safe to run at any time; the 5-minute schedule continues afterwards.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from analytics.rollups import rollup_rebuild
from creators.models import Creator


class Command(BaseCommand):
    help = "Rebuild analytics rollups from the raw facts (all creators, or --creator HANDLE)."

    def add_arguments(self, parser):
        parser.add_argument("--creator", help="the creator's handle (default: every creator)")

    def handle(self, *args, **opts):
        creators = Creator.objects.order_by("pk")
        if opts.get("creator"):
            creators = creators.filter(handle=opts["creator"])
            if not creators.exists():
                raise CommandError(f"No creator with handle {opts['creator']!r}.")
        for creator in creators:
            started = time.monotonic()
            result = rollup_rebuild(creator=creator)
            self.stdout.write(
                f"{creator.handle}: {result['sessions']} sessions, {result['questions']} "
                f"chat sessions, {result['students']} students, {result['days']} days "
                f"in {time.monotonic() - started:.1f}s"
            )
