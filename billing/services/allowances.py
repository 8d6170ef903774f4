"""Enforcing the tier table (billing.limits) at every entry point.

Uploads (browser, REST, `manage.py ingest`, anything that calls videos.services.video_create):
`upload_allowance_check` before any byte is stored, then `upload_allowance_lock` inside the
transaction that creates the Video row: it takes a PostgreSQL transaction-level advisory lock
on the creator and counts again, so two parallel uploads racing for the last slot cannot
both pass (the second waits for the first to commit, then sees its row).

Questions (browser chat, REST, `manage.py ask`): `question_allowance_consume` before the
answer is made — the burst limit (django-ratelimit, 10 a minute per student, on the shared
cache settings.RATELIMIT_USE_CACHE), then, under the creator's advisory lock, the tier's
monthly AI questions and the student's allowance; it records a QuestionUsage row, so an
answer that then comes from the cache still counts. Students over the tier's student count
keep access (the creator is warned); downgrades refuse only new uploads and questions over
the new limits, never data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django_ratelimit.core import get_usage

from billing.format import human_bytes, human_limit
from billing.limits import TierLimits, limits_for, tiers_above
from billing.meters import library_usage
from billing.models import QuestionUsage
from billing.selectors import ALERT_AT
from chronos.db import prepared_cursor
from chronos.errors import LimitExceeded, RateLimited
from creators.models import Creator, User
from creators.timezones import creator_zone, local_day_bounds, local_month_bounds

# pg_advisory_xact_lock(namespace, creator id) namespaces: "CH" + a number.
LOCK_UPLOADS = 0x4348_0001
LOCK_QUESTIONS = 0x4348_0002
# The burst limit per student, django-ratelimit's rate syntax (issue #10: 10 per minute).
BURST_RATE = "10/m"
# "N questions left" is shown once this few remain (or 10% of the allowance, if more).
FEW_LEFT = 3


class QuestionLimitReached(RateLimited):
    """The tier's monthly AI questions or the student's allowance is used up (HTTP 429).
    Extra keys: limit ("ai_questions_per_month" | "questions_per_student"), resets_at
    (ISO 8601, null for a lifetime allowance), used, allowed."""

    code = "question_limit"


def _plan_url(creator: Creator) -> str:
    return reverse("billing:plan", kwargs={"handle": creator.handle})


def _upgrade_hint(limits: TierLimits, attr: str) -> str:
    """ " Upgrade to Basic for 50." — the cheapest tier that lifts `attr`, or ""."""
    current = getattr(limits, attr)
    for tier in tiers_above(limits.tier):
        better = getattr(limits_for(tier), attr)
        if better is None or (current is not None and better > current):
            if better is None:
                shown = "unlimited"
            elif attr.endswith("_bytes"):
                shown = human_bytes(better)
            else:
                shown = human_limit(better)
            return f"upgrade to {limits_for(tier).label} for {shown}"
    return ""


def _or(hint: str, fallback: str, joiner: str = "") -> str:
    """`joiner` + hint (capitalised when it starts a sentence), else `fallback`."""
    if not hint:
        return fallback
    return joiner + (hint if joiner else hint[:1].upper() + hint[1:])


def _advisory_lock(namespace: int, creator_id: int) -> None:
    """Hold a transaction-level advisory lock on (namespace, creator) until commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("Advisory quota locks need a transaction (transaction.atomic).")
    with prepared_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, creator_id % 2**31])


def _current_tier(creator: Creator) -> str:
    """The tier as stored now (a webhook may have changed it since `creator` was read)."""
    tier = Creator.objects.filter(pk=creator.pk).values_list("tier", flat=True).first()
    return tier or creator.tier


# --- Uploads -------------------------------------------------------------------------------


def upload_allowance_check(*, creator: Creator, size_bytes: int) -> TierLimits:
    """Refuse an upload of `size_bytes` bytes that the creator's tier does not allow.

    Checks one file's size, the number of videos (every row counts, failed ones too) and
    the storage the library would use. Returns the tier's limits. Raises
    chronos.errors.LimitExceeded (HTTP 403, code "limit_exceeded") with extra keys
    limit ("file_bytes" | "videos" | "storage_bytes"), used, allowed, tier and upgrade_url;
    its message names the limit, the usage and the upgrade.
    """
    limits = limits_for(_current_tier(creator))
    extra: dict[str, Any] = {"tier": limits.tier, "upgrade_url": _plan_url(creator)}
    if size_bytes > limits.file_bytes:
        raise LimitExceeded(
            f"This file is {human_bytes(size_bytes)}; the {limits.label} plan accepts files "
            f"up to {human_bytes(limits.file_bytes)}. "
            f"{_or(_upgrade_hint(limits, 'file_bytes'), 'Compress it or split it into parts')}.",
            limit="file_bytes",
            used=size_bytes,
            allowed=limits.file_bytes,
            **extra,
        )
    usage = library_usage(creator)
    if limits.videos is not None and usage.videos + 1 > limits.videos:
        raise LimitExceeded(
            f"Your library holds {usage.videos} of the {limits.videos} videos the "
            f"{limits.label} plan allows (failed videos count until you delete them). Delete "
            f"a video to make room{_or(_upgrade_hint(limits, 'videos'), '', ', or ')}.",
            limit="videos",
            used=usage.videos,
            allowed=limits.videos,
            **extra,
        )
    if limits.storage_bytes is not None and usage.storage_bytes + size_bytes > limits.storage_bytes:
        raise LimitExceeded(
            f"This file ({human_bytes(size_bytes)}) would take your library past the "
            f"{human_bytes(limits.storage_bytes)} of storage of the {limits.label} plan "
            f"({human_bytes(usage.storage_bytes)} used). Delete a video to make room"
            f"{_or(_upgrade_hint(limits, 'storage_bytes'), '', ', or ')}.",
            limit="storage_bytes",
            used=usage.storage_bytes,
            allowed=limits.storage_bytes,
            **extra,
        )
    return limits


def upload_allowance_lock(*, creator: Creator, size_bytes: int) -> TierLimits:
    """`upload_allowance_check` under the creator's upload lock, inside the caller's
    transaction (call it right before creating the Video row; the lock is released at
    commit or rollback). After commit the 80% alerts are checked. Raises RuntimeError
    outside a transaction, LimitExceeded as above.
    """
    from billing.services.alerts import usage_alerts_check

    _advisory_lock(LOCK_UPLOADS, creator.pk)
    limits = upload_allowance_check(creator=creator, size_bytes=size_bytes)
    transaction.on_commit(lambda: usage_alerts_check(creator=creator))
    return limits


# --- Questions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionAllowance:
    """Where a person stands after (or before) a question.

    remaining: questions this person may still ask in the current allowance period (None:
    unlimited); period: "day" | "total" | "month" (which allowance is the tighter one);
    resets_at: when it resets (None: never, a lifetime allowance).
    """

    remaining: int | None
    allowed: int | None
    period: str
    resets_at: datetime | None

    @property
    def few_left(self) -> bool:
        """True when few questions remain: at most 3, or 10% of the allowance."""
        if self.remaining is None or self.allowed is None:
            return False
        return self.remaining <= max(FEW_LEFT, self.allowed // 10)

    @property
    def text(self) -> str:
        """ "2 questions left today" / "1 question left" / "5 questions left this month"."""
        if self.remaining is None:
            return ""
        noun = "question" if self.remaining == 1 else "questions"
        when = {"day": " today", "month": " this month"}.get(self.period, "")
        return f"{self.remaining} {noun} left{when}"


def _is_student(creator: Creator, user: User | None) -> bool:
    """Managers (owner, team, staff) preview their own tutor: no per-student allowance."""
    if user is None or not user.is_authenticated:
        return False
    return not Creator.objects.managed_by(user).filter(pk=creator.pk).exists()


def _standing(*, creator: Creator, user: User | None, now: datetime, student: bool) -> dict:
    """The tier's limits and what was used: the month's questions of every student and, for
    a student with a per-student allowance, theirs (today's or all) — one COUNT statement."""
    limits = limits_for(_current_tier(creator))
    month_start, month_end = local_month_bounds(creator=creator, at=now)
    counts: dict[str, Any] = {
        "monthly_used": Count("pk", filter=Q(asked_at__gte=month_start, asked_at__lt=month_end))
    }
    student_resets = None
    if student and limits.questions_per_student is not None:
        mine = Q(user=user)
        if limits.questions_per_student_period == "day":
            day_start, day_end = local_day_bounds(creator=creator, at=now)
            mine &= Q(asked_at__gte=day_start, asked_at__lt=day_end)
            student_resets = day_end
        counts["student_used"] = Count("pk", filter=mine)
    used = QuestionUsage.objects.filter(creator=creator).aggregate(**counts)
    return {
        "limits": limits,
        "monthly_used": used["monthly_used"],
        "month_end": month_end,
        "student_used": used.get("student_used", 0),
        "student_resets": student_resets,
    }


def _allowance(standing: dict, *, student: bool) -> QuestionAllowance:
    limits: TierLimits = standing["limits"]
    options = []
    if limits.ai_questions_per_month is not None:
        options.append(
            QuestionAllowance(
                remaining=max(0, limits.ai_questions_per_month - standing["monthly_used"]),
                allowed=limits.ai_questions_per_month,
                period="month",
                resets_at=standing["month_end"],
            )
        )
    if student and limits.questions_per_student is not None:
        options.append(
            QuestionAllowance(
                remaining=max(0, limits.questions_per_student - standing["student_used"]),
                allowed=limits.questions_per_student,
                period=limits.questions_per_student_period,
                resets_at=standing["student_resets"],
            )
        )
    if not options:
        return QuestionAllowance(remaining=None, allowed=None, period="month", resets_at=None)
    return min(options, key=lambda a: (a.remaining, a.resets_at is not None))


def question_allowance_status(
    *, creator: Creator, user: User | None, now: datetime | None = None
) -> QuestionAllowance:
    """How many questions `user` may still ask `creator`'s tutor (nothing is recorded)."""
    now = now or timezone.now()
    student = _is_student(creator, user)
    return _allowance(
        _standing(creator=creator, user=user, now=now, student=student), student=student
    )


def question_burst_check(*, user: User) -> None:
    """Count one question against the student's burst limit (BURST_RATE, a fixed window
    per minute in django-ratelimit's shared cache). Raises chronos.errors.RateLimited
    (HTTP 429, code "rate_limited", extra retry_after seconds) past 10 in the window."""
    usage = get_usage(
        None,
        group="chronos.question_burst",
        key=lambda group, request: f"user:{user.pk}",
        rate=BURST_RATE,
        increment=True,
    )
    if usage and usage["should_limit"]:
        retry_after = max(1, int(usage["time_left"]))
        raise RateLimited(
            f"That's a lot of questions in a minute. Take a breath and ask again in "
            f"{retry_after} seconds.",
            retry_after=retry_after,
        )


# Count and record one question in one statement, under the creator's question lock (taken
# by the statement before it, so this one's snapshot sees every question committed before):
# the creator's tier as stored now, the month's questions of every student, the asker's
# own (today's, or all of them) and, when the tier is the one the limits were taken from
# and both counts are under them, the new QuestionUsage row. Each count reads its own index
# range ((creator, asked_at) and (creator, user, asked_at)).
_CONSUME_SQL = """
WITH c AS (SELECT tier FROM creators_creator WHERE id = %(creator)s),
used AS (
    SELECT (SELECT count(*) FROM billing_questionusage
            WHERE creator_id = %(creator)s
              AND asked_at >= %(month_start)s AND asked_at < %(month_end)s) AS monthly,
           CASE WHEN %(mine)s THEN
               (SELECT count(*) FROM billing_questionusage
                WHERE creator_id = %(creator)s AND user_id = %(user)s
                  AND (%(day_start)s::timestamptz IS NULL
                       OR (asked_at >= %(day_start)s AND asked_at < %(day_end)s)))
           ELSE 0 END AS mine
),
ins AS (
    INSERT INTO billing_questionusage (creator_id, user_id, source, asked_at)
    SELECT %(creator)s, %(user)s::bigint, %(source)s, %(now)s FROM c, used
    WHERE c.tier = %(tier)s
      AND (%(monthly_limit)s::int IS NULL OR used.monthly < %(monthly_limit)s::int)
      AND (%(student_limit)s::int IS NULL OR used.mine < %(student_limit)s::int)
    RETURNING id
)
SELECT (SELECT tier FROM c), used.monthly, used.mine, (SELECT count(*) FROM ins) FROM used
"""


def question_allowance_consume(
    *,
    creator: Creator,
    user: User | None,
    source: str = QuestionUsage.Source.BROWSER,
    now: datetime | None = None,
    student: bool | None = None,
) -> QuestionAllowance:
    """Check and record one question before it is answered (cached answers count too).

    Order: the student's burst limit (RateLimited, 429 + retry_after), then under the
    creator's advisory lock the tier's monthly AI questions and the student's allowance
    (QuestionLimitReached, 429 code "question_limit" with resets_at). Managers of the
    creator and the `ask` command (user None) have no per-student allowance and no burst
    limit but count against the month. `student`: whether `user` is a student of the
    creator (not a manager) when the caller already checked; None = checked here. Returns
    the allowance left after this question. Once the month's questions reach ALERT_AT %
    of the tier's, the usage alerts are checked after commit (the other meters do not
    move with a question; the 15-minute sweep covers them).

    Under the lock one statement (_CONSUME_SQL) re-reads the tier, counts and inserts, so
    the lock is held for two round trips; if the tier changed since `creator` was read (a
    webhook), the counts are checked again against the new tier's limits.
    """
    now = now or timezone.now()
    student = _is_student(creator, user) if student is None else student
    if student and user is not None and settings.RATELIMIT_ENABLE:
        question_burst_check(user=user)
    tier = creator.tier
    for _attempt in range(3):
        with transaction.atomic():
            _advisory_lock(LOCK_QUESTIONS, creator.pk)
            standing, inserted, stored = _consume(
                creator=creator, user=user, source=source, now=now, student=student, tier=tier
            )
            if standing is not None:
                before = _allowance(standing, student=student)
                if not inserted:
                    raise _limit_reached(creator, before, standing)
                return _after_question(creator, standing, before)
        if stored is None:
            break
        tier = stored  # a webhook changed the tier: count again under its limits
    # The creator's row is gone, or its tier kept changing: the tier read under the lock.
    return _consume_counted(creator=creator, user=user, source=source, now=now, student=student)


def _consume(
    *, creator: Creator, user: User | None, source: str, now: datetime, student: bool, tier: str
) -> tuple[dict | None, bool, str]:
    """Run _CONSUME_SQL with `tier`'s limits: (standing as _standing returns it, whether
    the question was recorded, the tier as stored). standing is None when the stored tier
    is not `tier` (nothing recorded; the tier is None when the creator's row is gone)."""
    limits = limits_for(tier)
    month_start, month_end = local_month_bounds(creator=creator, at=now)
    per_student = student and limits.questions_per_student is not None
    day_start = day_end = None
    if per_student and limits.questions_per_student_period == "day":
        day_start, day_end = local_day_bounds(creator=creator, at=now)
    with prepared_cursor() as cursor:
        cursor.execute(
            _CONSUME_SQL,
            {
                "creator": creator.pk,
                "user": getattr(user, "pk", None),
                "source": source,
                "now": now,
                "tier": tier,
                "month_start": month_start,
                "month_end": month_end,
                "mine": per_student,
                "day_start": day_start,
                "day_end": day_end,
                "monthly_limit": limits.ai_questions_per_month,
                "student_limit": limits.questions_per_student if per_student else None,
            },
        )
        stored, monthly, mine, inserted = cursor.fetchone()
    if stored != tier:
        return None, False, stored
    standing = {
        "limits": limits,
        "monthly_used": monthly,
        "month_end": month_end,
        "student_used": mine,
        "student_resets": day_end,
    }
    return standing, bool(inserted), tier


def _consume_counted(
    *, creator: Creator, user: User | None, source: str, now: datetime, student: bool
) -> QuestionAllowance:
    """question_allowance_consume with the tier read inside the lock (_standing)."""
    with transaction.atomic():
        _advisory_lock(LOCK_QUESTIONS, creator.pk)
        standing = _standing(creator=creator, user=user, now=now, student=student)
        before = _allowance(standing, student=student)
        if before.remaining is not None and before.remaining <= 0:
            raise _limit_reached(creator, before, standing)
        QuestionUsage.objects.create(creator=creator, user=user, source=source, asked_at=now)
    return _after_question(creator, standing, before)


def _after_question(
    creator: Creator, standing: dict, before: QuestionAllowance
) -> QuestionAllowance:
    """The allowance left once a question was recorded (`before`: as it stood before it);
    queues the usage alerts' check once the month's questions reach ALERT_AT %."""
    monthly = standing["limits"].ai_questions_per_month
    if monthly and (standing["monthly_used"] + 1) * 100 >= ALERT_AT * monthly:
        from billing.services.alerts import usage_alerts_check

        transaction.on_commit(lambda: usage_alerts_check(creator=creator))
    if before.remaining is None:
        return before
    return QuestionAllowance(
        remaining=before.remaining - 1,
        allowed=before.allowed,
        period=before.period,
        resets_at=before.resets_at,
    )


def _limit_reached(
    creator: Creator, allowance: QuestionAllowance, standing: dict
) -> QuestionLimitReached:
    limits: TierLimits = standing["limits"]
    resets = allowance.resets_at
    if allowance.period == "day":
        when = f"New ones arrive at midnight ({creator.timezone})."
    elif resets is not None:
        when = f"New ones arrive on {resets.astimezone(creator_zone(creator)):%-d %B}."
    else:
        when = "Ask the course creator about a bigger plan."
    if allowance.period == "month":
        message = (
            f"This course has used all {limits.ai_questions_per_month:,} AI questions of this "
            f"month. {when}"
        )
        limit = "ai_questions_per_month"
    else:
        scope = "for today" if allowance.period == "day" else "on this plan"
        message = f"You've asked all {allowance.allowed} of your questions {scope}. {when}"
        limit = "questions_per_student"
    return QuestionLimitReached(
        message,
        limit=limit,
        resets_at=resets.isoformat() if resets else None,
        used=allowance.allowed - (allowance.remaining or 0) if allowance.allowed else None,
        allowed=allowance.allowed,
    )
