"""Real-looking student history for the demo and the benchmark (clearly labelled demo data).

`history_generate` simulates students over days: each enrols on some day, is active on a
day with a probability that decays over time (some drop out), resumes the first unfinished
lesson, plays it in 10-second heartbeats like the player does, rewinds at each video's
hard passage (so the engagement graph shows rewatching there), sometimes skips ahead or
stops early, and asks questions — more often at the hard passage — some of which the
videos do not cover. It yields plain rows; `history_write` bulk-inserts them consistently
(WatchEvent, LessonProgress folded with courses.intervals, Enrollment, ChatSession and
ChatMessage pairs with citations), after which the caller runs the analytics rebuild.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from courses.intervals import intervals_merge, intervals_total

# Heartbeat period of the player, seconds (RESEARCH.md: heartbeat every ~10 s).
HEARTBEAT = 10.0
# Questions asked about the demo lecture (similar wordings on purpose: the dashboard groups
# them) and questions the videos cannot answer.
COVERED_QUESTIONS = [
    "Why does the candle flame point upwards?",
    "why does a flame always point up",
    "How does the wick draw the melted wax up?",
    "how do wicks draw up the wax",
    "What makes the flame bright?",
    "Why is the flame brightest at the top?",
    "What is the cup of melted wax around the wick?",
    "Why does a candle need air to burn?",
    "What happens to the wax when the candle burns?",
    "why does the wax not all melt at once",
]
UNCOVERED_QUESTIONS = [
    "Will this be on the exam?",
    "Is there a certificate when I finish the course?",
    "Can I download the slides?",
    "Where can I buy beeswax candles?",
]


@dataclass
class Lecture:
    """A lesson to simulate: ids, duration (s) and where its hard passage starts (s)."""

    lesson_id: int
    video_id: int
    course_id: int
    duration: float
    hard_at: float


@dataclass
class History:
    """Rows to insert (tuples in model field order, see history_write)."""

    events: list[tuple] = field(default_factory=list)
    enrollments: list[tuple] = field(default_factory=list)
    questions: list[tuple] = field(default_factory=list)
    progress: dict = field(default_factory=dict)  # (user, lesson) -> [intervals, first, last]


def history_generate(
    *,
    students: list[int],
    lectures: list[Lecture],
    days: int,
    end: datetime,
    seed: int = 7,
    question_rate: float = 0.25,
) -> History:
    """Simulate `students` (user ids) over the `days` days before `end` (aware datetime)."""
    rnd = random.Random(seed)
    out = History()
    start_day = end - timedelta(days=days)
    for user in students:
        enrolled = start_day + timedelta(days=rnd.uniform(0, days - 1), hours=rnd.uniform(0, 8))
        out.enrollments.append((user, lectures[0].course_id, enrolled))
        keen = rnd.choice([0.7, 0.5, 0.35, 0.2, 0.1])
        quit_after = rnd.choice([None, None, None, rnd.randint(3, 30)])
        position: dict[int, float] = defaultdict(float)
        done: set[int] = set()
        day = enrolled
        while day < end:
            age = (day - enrolled).days
            if quit_after is not None and age > quit_after:
                break
            if rnd.random() < keen * (0.985**age):
                for _ in range(rnd.choice([1, 1, 1, 2])):
                    at = day.replace(hour=rnd.randint(7, 22), minute=rnd.randint(0, 59))
                    if at >= end:
                        continue
                    todo = [lec for lec in lectures if lec.lesson_id not in done]
                    if not todo and rnd.random() < 0.85:
                        continue  # finished the course: only now and then a revisit
                    lecture = todo[0] if todo and rnd.random() < 0.85 else rnd.choice(lectures)
                    _session(rnd, out, user, lecture, at, position, done, question_rate)
            day += timedelta(days=1)
    return out


def _session(rnd, out: History, user, lec: Lecture, at, position, done, q_rate) -> None:
    sid = uuid.uuid4()
    pos = position[lec.lesson_id] if position[lec.lesson_id] < lec.duration - 30 else 0.0
    seq, clock = 0, at
    events = out.events

    def emit(verb, a, b):
        nonlocal seq
        events.append(
            (
                sid,
                seq,
                user,
                lec.lesson_id,
                lec.video_id,
                verb,
                b if b is not None else pos,
                a,
                b,
                clock,
            )
        )
        seq += 1

    emit("played", pos, pos)
    budget = rnd.expovariate(1 / 900.0) + 60  # seconds of attention
    played: list[list[float]] = []
    asked = False
    rewound = False
    while budget > 0 and pos < lec.duration:
        end = min(lec.duration, pos + HEARTBEAT)
        clock += timedelta(seconds=end - pos)
        emit("heartbeat", pos, end)
        played.append([pos, end])
        budget -= end - pos
        pos = end
        in_hard = lec.hard_at <= pos < lec.hard_at + 60
        if in_hard and not rewound and rnd.random() < 0.45:
            back = max(0.0, pos - rnd.uniform(15, 45))
            emit("seeked", pos, back)
            pos, rewound = back, True
        elif rnd.random() < 0.015:
            ahead = min(lec.duration, pos + rnd.uniform(20, 90))
            emit("seeked", pos, ahead)
            pos = ahead
        if not asked and rnd.random() < (q_rate * (0.25 if in_hard else 0.012)):
            asked = True
            _question(rnd, out, user, lec, clock, pos, in_hard)
    emit("ended" if pos >= lec.duration else "paused", pos, pos)
    position[lec.lesson_id] = pos
    key = (user, lec.lesson_id)
    prev = out.progress.get(key)
    intervals = intervals_merge((prev[0] if prev else []) + played, limit=lec.duration)
    first = prev[1] if prev else at
    completed = prev[3] if prev else None
    if completed is None and intervals_total(intervals) >= 0.9 * lec.duration:
        completed = clock
        done.add(lec.lesson_id)
    out.progress[key] = [intervals, first, clock, completed, pos, lec]


def _question(rnd, out: History, user, lec: Lecture, at, pos, in_hard) -> None:
    covered = rnd.random() < (0.85 if in_hard else 0.6)
    text = rnd.choice(COVERED_QUESTIONS if covered else UNCOVERED_QUESTIONS)
    cite = max(0.0, pos - rnd.uniform(0, 25)) if covered else None
    out.questions.append((user, lec, at, pos, text, covered, cite))


@transaction.atomic
def history_write(*, creator, history: History, video_titles: dict[int, str]) -> dict:
    """Insert the simulated rows for `creator`; returns counts per table."""
    from chat.answerers import NOT_COVERED
    from chat.models import ChatMessage, ChatSession
    from courses.models import Enrollment, LessonProgress, WatchEvent

    Enrollment.objects.bulk_create(
        [
            Enrollment(creator=creator, user_id=u, course_id=c, enrolled_at=t)
            for u, c, t in history.enrollments
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    WatchEvent.objects.bulk_create(
        (
            WatchEvent(
                creator=creator,
                session_id=s,
                seq=q,
                user_id=u,
                lesson_id=lesson,
                video_id=v,
                verb=verb,
                position=p,
                time_from=a,
                time_to=b,
                rate=1.0,
                client_time=t,
                received_at=t,
            )
            for s, q, u, lesson, v, verb, p, a, b, t in history.events
        ),
        batch_size=5000,
    )
    LessonProgress.objects.bulk_create(
        [
            LessonProgress(
                creator=creator,
                user_id=u,
                lesson_id=lesson,
                played_intervals=iv,
                unique_seconds=intervals_total(iv),
                last_position=pos,
                started_at=first,
                completed_at=completed,
                updated_at=last,
            )
            for (u, lesson), (iv, first, last, completed, pos, _lec) in history.progress.items()
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    has_place = hasattr(ChatMessage, "video_position")
    sessions = ChatSession.objects.bulk_create(
        [
            ChatSession(creator=creator, user_id=u, title=text[:60], course_id=lec.course_id)
            for u, lec, _at, _pos, text, _c, _cite in history.questions
        ],
        batch_size=2000,
    )
    messages, times = [], []
    for session, (_u, lec, at, pos, text, covered, cite) in zip(
        sessions, history.questions, strict=True
    ):
        place = {"video_id": lec.video_id, "video_position": pos} if has_place else {}
        messages.append(
            ChatMessage(creator=creator, session=session, role="user", content=text, **place)
        )
        citations = (
            [
                {
                    "video_id": lec.video_id,
                    "video_title": video_titles.get(lec.video_id, ""),
                    "start": round(cite, 1),
                    "end": round(cite + 30, 1),
                    "quote": "…",
                    "score": 0.5,
                    "n": 1,
                }
            ]
            if covered
            else []
        )
        messages.append(
            ChatMessage(
                creator=creator,
                session=session,
                role="assistant",
                content="From the lecture [1]." if covered else NOT_COVERED,
                citations=citations,
                covered=covered,
                model="demo",
            )
        )
        times += [at, at + timedelta(seconds=3)]
    messages = ChatMessage.objects.bulk_create(messages, batch_size=2000)
    _set_times(
        "chat_chatmessage", "created_at", [(m.pk, t) for m, t in zip(messages, times, strict=True)]
    )
    _set_times(
        "chat_chatsession",
        "created_at",
        [(s.pk, t) for s, t in zip(sessions, times[::2], strict=True)],
    )
    _set_times(
        "chat_chatsession",
        "updated_at",
        [(s.pk, t) for s, t in zip(sessions, times[::2], strict=True)],
    )
    return {
        "events": len(history.events),
        "enrollments": len(history.enrollments),
        "progress": len(history.progress),
        "questions": len(history.questions),
    }


def _set_times(table: str, column: str, pairs: list[tuple[int, datetime]]) -> None:
    """Back-date auto_now(_add) columns in one statement per 5,000 rows."""
    for i in range(0, len(pairs), 5000):
        chunk = pairs[i : i + 5000]
        values = ", ".join(["(%s, %s::timestamptz)"] * len(chunk))
        params = [x for pair in chunk for x in pair]
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {table} AS t SET {column} = v.at FROM (VALUES {values}) AS v(id, at) "
                "WHERE t.id = v.id",
                params,
            )
