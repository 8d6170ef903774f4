"""`manage.py seed_demo`: an idempotent demo library so `make run` shows a real lecture.

Creates (once) the creator `demo` ("Faraday's Candle Lectures"), its owner
demo@chronos.local and a student student@chronos.local with an active membership, both with
the documented password "chronos-demo", and processes videos/demo/faraday-candle-1.mp4 with
its exact captions in this process (no worker needed). Re-running changes nothing that is
already in place, and repairs a demo video that did not complete.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEMO_HANDLE = "demo"
DEMO_NAME = "Faraday's Candle Lectures"
DEMO_OWNER_EMAIL = "demo@chronos.local"
DEMO_STUDENT_EMAIL = "student@chronos.local"
DEMO_PASSWORD = "chronos-demo"  # documented in README; local demo data only
DEMO_DIR = Path(settings.BASE_DIR) / "videos" / "demo"
DEMO_VIDEO = "faraday-candle-1.mp4"
DEMO_CAPTIONS = "faraday-candle-1.vtt"
DEMO_TITLE = "The Chemical History of a Candle — Lecture I: A Candle: the Flame"
DEMO_DESCRIPTION = (
    "Michael Faraday's first Christmas lecture at the Royal Institution (1860), read aloud. "
    "Public domain text, Project Gutenberg #14474."
)


class Command(BaseCommand):
    help = "Create the demo creator, users and a processed demo lecture (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="http://127.0.0.1:8000")

    def handle(self, *args, **opts):
        from creators.models import Creator, Membership
        from videos.models import Video
        from videos.pipeline import run_all
        from videos.services import video_create, video_delete

        with transaction.atomic():
            owner = self._user(DEMO_OWNER_EMAIL, "demo", "Demo Creator")
            student = self._user(DEMO_STUDENT_EMAIL, "student", "Demo Student")
            creator = Creator.objects.filter(handle=DEMO_HANDLE).first()
            if creator is None:
                from creators.services import creator_create

                creator = creator_create(company_name=DEMO_NAME, owner=owner, handle=DEMO_HANDLE)
                self.stdout.write(f"Created creator '{DEMO_HANDLE}'.")
            elif creator.owner_id is None:
                creator.owner = owner
                creator.save(update_fields=["owner"])
            Membership.objects.update_or_create(
                creator=creator,
                user=student,
                defaults={"status": Membership.Status.ACTIVE, "valid_until": None},
            )
            seed_demo_join_link(creator=creator, owner=owner, stdout=self.stdout)

        seed_plan(creator=creator, stdout=self.stdout)
        videos = Video.objects.filter(creator=creator, original_filename=DEMO_VIDEO)
        done = videos.filter(status=Video.Status.COMPLETED).first()
        if done is None:
            for stale in videos:
                video_delete(video=stale)
            media, captions = DEMO_DIR / DEMO_VIDEO, DEMO_DIR / DEMO_CAPTIONS
            if not media.is_file():
                raise CommandError(f"Demo media missing: {media}")
            self.stdout.write("Processing the demo lecture (captions-backed, a few seconds)...")
            with open(media, "rb") as fh, open(captions, "rb") as cap:
                video = video_create(
                    creator=creator,
                    file=File(fh, name=DEMO_VIDEO),
                    filename=DEMO_VIDEO,
                    title=DEMO_TITLE,
                    description=DEMO_DESCRIPTION,
                    captions=File(cap, name=DEMO_CAPTIONS),
                    captions_filename=DEMO_CAPTIONS,
                    enqueue=False,
                )
            done = run_all(video.pk)
            if done.status != Video.Status.COMPLETED:
                raise CommandError(f"The demo lecture failed to process: {done.error}")
            self.stdout.write(f"Demo lecture ready: {done.segments.count()} segments.")
        else:
            self.stdout.write("Demo lecture already processed.")
            seed_demo_vectors(stdout=self.stdout)
        seed_demo_course(creator=creator, student=student, lecture_one=done, stdout=self.stdout)
        seed_demo_analytics(creator=creator, stdout=self.stdout)

        host = opts["host"].rstrip("/")
        self.stdout.write(
            self.style.SUCCESS(
                "\nChronos demo is ready.\n"
                f"  Open {host}/accounts/login/\n"
                f"  Creator: {DEMO_OWNER_EMAIL} / {DEMO_PASSWORD}\n"
                f"  Student: {DEMO_STUDENT_EMAIL} / {DEMO_PASSWORD}\n"
                f"  Join link for new students: {host}/join/{DEMO_JOIN_TOKEN}/\n"
            )
        )

    def _user(self, email: str, username: str, name: str):
        from creators.models import User

        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            uname = username
            n = 1
            while User.objects.filter(username=uname).exists():
                n += 1
                uname = f"{username}{n}"
            user = User(username=uname, email=email, display_name=name)
            user.set_password(DEMO_PASSWORD)
            user.save()
            self.stdout.write(f"Created user {email}.")
        try:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
        except (ImportError, RuntimeError):  # allauth not installed: plain Django login
            pass
        return user


# --- Join link (creators, issue 11) ---------------------------------------------------------

DEMO_JOIN_TOKEN = "demo-join"  # a known token so the printed link is stable; demo data only


def seed_demo_vectors(*, stdout) -> None:
    """Issue 12: vectors keep their model, so a demo library embedded by an earlier local
    model (or before an OpenAI key was set) is re-embedded with the active embedder
    (`manage.py reembed --creator demo`: only stale chunks and windows; nothing when none
    is configured). Without it the tutor would search that library by full text only."""
    from django.core.management import call_command

    from videos.embedders import get_embedder

    if get_embedder() is not None:
        call_command("reembed", creator=DEMO_HANDLE, stdout=stdout)


def seed_demo_join_link(*, creator, owner, stdout) -> None:
    """A shareable join link for the demo studio (no expiry, 100 uses), created once, so a
    newcomer can sign up and join without Whop; a second, revoked link shows that state."""
    from creators.models import Invite

    _, created = Invite.objects.get_or_create(
        token=DEMO_JOIN_TOKEN,
        defaults={"creator": creator, "max_uses": 100, "created_by": owner, "note": "demo"},
    )
    if created:
        from django.utils import timezone

        Invite.objects.create(
            creator=creator,
            token="demo-revoked",
            email="former@chronos.local",
            max_uses=1,
            created_by=owner,
            revoked_at=timezone.now(),
        )
        stdout.write(f"Created the demo join link /join/{DEMO_JOIN_TOKEN}/.")


# --- Demo course (courses, issue 8) ----------------------------------------------------------

DEMO_COURSE_TITLE = "Faraday's Candle"
DEMO_COURSE_SLUG = "faradays-candle"
LECTURE_TWO_DIR = Path(settings.BASE_DIR) / "tests" / "data"
LECTURE_TWO = "faraday-candle-2.mp4"
LECTURE_TWO_CAPTIONS = "faraday-candle-2.vtt"
LECTURE_TWO_TITLE = "The Chemical History of a Candle — Lecture II: Brightness of the Flame"


def seed_demo_course(*, creator, student, lecture_one, stdout) -> None:
    """The published, sequential demo course "Faraday's Candle": module 1 plays Lecture I,
    module 2 Lecture II (processed here from tests/data with its captions, ~1 s), and the
    demo student is enrolled. Created once; a re-run only repairs what is missing."""
    from django.utils import timezone

    from courses import services as course_services
    from courses.models import Course, Enrollment
    from videos.models import Video
    from videos.pipeline import run_all
    from videos.services import video_create

    two = Video.objects.filter(
        creator=creator, original_filename=LECTURE_TWO, status=Video.Status.COMPLETED
    ).first()
    media = LECTURE_TWO_DIR / LECTURE_TWO
    if two is None and media.is_file():
        stdout.write("Processing demo Lecture II (captions-backed)...")
        with open(media, "rb") as fh, open(LECTURE_TWO_DIR / LECTURE_TWO_CAPTIONS, "rb") as cap:
            video = video_create(
                creator=creator,
                file=File(fh, name=LECTURE_TWO),
                filename=LECTURE_TWO,
                title=LECTURE_TWO_TITLE,
                description=DEMO_DESCRIPTION.replace("first", "second"),
                captions=File(cap, name=LECTURE_TWO_CAPTIONS),
                captions_filename=LECTURE_TWO_CAPTIONS,
                enqueue=False,
            )
        two = run_all(video.pk)
        if two.status != Video.Status.COMPLETED:
            raise CommandError(f"Demo Lecture II failed to process: {two.error}")
    course = Course.objects.filter(creator=creator, slug=DEMO_COURSE_SLUG).first()
    if course is None:
        with transaction.atomic():
            course = course_services.course_create(
                creator=creator,
                title=DEMO_COURSE_TITLE,
                description=(
                    "Michael Faraday's Christmas lectures for young people (Royal Institution, "
                    "1860), read aloud: **how a candle burns**, and what its flame is made of.\n\n"
                    "Lessons unlock in order; ask the tutor about anything you just watched."
                ),
                sequential=True,
            )
            course_services.course_update(course=course, status=Course.Status.PUBLISHED)
            lectures = [("Lecture I: A Candle — the Flame", lecture_one)]
            if two is not None:
                lectures.append(("Lecture II: Brightness of the Flame", two))
            for title, video in lectures:
                module = course_services.module_create(course=course, title=title)
                course_services.lesson_create(module=module, video_id=video.pk, title=video.title)
        stdout.write(f"Created the demo course '{DEMO_COURSE_TITLE}'.")
    Enrollment.objects.get_or_create(
        course=course,
        user=student,
        defaults={"creator": creator, "enrolled_at": timezone.now()},
    )


# --- Demo analytics history (analytics, issue 9) ---------------------------------------------

DEMO_LEARNERS = 30  # clearly labelled "(demo)" students with 60 days of simulated history
DEMO_HISTORY_DAYS = 60


def seed_demo_analytics(*, creator, stdout) -> None:
    """30 demo learners ("Learner 07 (demo)", learnerNN@demo.chronos.local, no password)
    with 60 days of simulated watching and questions on the demo course (analytics.demo),
    then the analytics rebuild. Created once: skipped when the learners already have
    watch events, or when no course with processed lessons exists yet."""
    from django.utils import timezone

    from analytics.demo import Lecture, history_generate, history_write
    from analytics.pages import dashboards_warm
    from analytics.rollups import rollup_rebuild
    from courses.models import Lesson, WatchEvent
    from creators.models import Membership, User

    lessons = list(
        Lesson.objects.filter(creator=creator, video__status="completed")
        .select_related("video", "module")
        .order_by("module__course_id", "module__position", "position", "id")
    )
    if not lessons:
        stdout.write("Analytics demo history skipped: the demo course has no lessons yet.")
        return
    course_id = lessons[0].module.course_id
    lessons = [lesson for lesson in lessons if lesson.module.course_id == course_id]
    learners = []
    for i in range(1, DEMO_LEARNERS + 1):
        user, created = User.objects.get_or_create(
            username=f"demo-learner-{i:02d}",
            defaults={
                "email": f"learner{i:02d}@demo.chronos.local",
                "display_name": f"Learner {i:02d} (demo)",
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(creator=creator, user=user)
        learners.append(user.pk)
    if WatchEvent.objects.filter(creator=creator, user_id__in=learners).exists():
        stdout.write("Analytics demo history already in place.")
        return
    lectures = [
        Lecture(
            lesson_id=lesson.pk,
            video_id=lesson.video_id,
            course_id=course_id,
            duration=float(lesson.video.duration_seconds or 600.0),
            hard_at=float(lesson.video.duration_seconds or 600.0) * (0.3 + 0.15 * (i % 3)),
        )
        for i, lesson in enumerate(lessons)
    ]
    history = history_generate(
        students=learners, lectures=lectures, days=DEMO_HISTORY_DAYS, end=timezone.now()
    )
    counts = history_write(
        creator=creator,
        history=history,
        video_titles={lesson.video_id: lesson.video.title for lesson in lessons},
    )
    rollup_rebuild(creator=creator)
    dashboards_warm(creator=creator)  # as the worker does after a rollup
    stdout.write(
        f"Analytics demo history: {DEMO_LEARNERS} demo learners, {counts['events']} watch "
        f"events, {counts['questions']} questions over {DEMO_HISTORY_DAYS} days."
    )


# --- Plans (billing; issue 10) ---------------------------------------------------------------


def seed_plan(*, creator, stdout) -> None:
    """Put the demo creator on Pro (recorded as a plan change "seed_demo") so the demo
    student can ask many questions: 500 a day each, 10,000 a month for the studio, and the
    burst limit of 10 a minute. Left alone once the demo is on any paid tier (an admin's or
    a webhook's choice wins)."""
    from billing.services.payments import tier_set_by_admin
    from creators.models import Tier

    if creator.tier == Tier.FREE:
        tier_set_by_admin(creator=creator, to_tier=Tier.PRO, actor=None, reason="seed_demo")
        stdout.write("Demo creator is on the Pro plan (500 questions a day per student).")
