"""Analytics reads for one creator (already resolved through creators.selectors by the view
or API, so another tenant's creator never gets here). Every read takes the DateRange and,
optionally, one course; all come from the rollup tables except enrolment/progress facts,
which are read directly (bounded by the creator's students x lessons).

Units: seconds (float) for time, dates are local dates in the creator's time zone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum
from django.http import Http404

from analytics.models import BUCKET_SECONDS, CourseDay, QuestionFact, StudentDay, WatchSession
from analytics.ranges import DateRange, tz_of
from creators.models import Creator

CARD_KEYS = (
    "active_students",
    "watch_seconds",
    "lesson_completions",
    "questions",
    "questions_not_covered",
)
# Above this many days the activity charts switch from per-day to per-week points.
WEEKLY_AFTER_DAYS = 92
TOP_VIDEOS = 10
# Weeks shown in the cohort retention matrix (PostHog's default weekly view shows 8-12).
COHORT_WEEKS = 12
# Progress distribution bins (Frappe LMS): upper bounds in percent, inclusive of 100.
PROGRESS_BINS = (
    ("0\u201330%", 0, 30),
    ("30\u201360%", 30, 60),
    ("60\u201399%", 60, 100),
    ("100%", 100, 101),
)
# Two questions join one group when their lexeme sets' Jaccard similarity is at least this.
SIMILARITY = 0.6
# Distinct lexeme keys considered for grouping (the most frequent ones).
GROUP_CANDIDATES = 300


def first_day(*, creator: Creator) -> date | None:
    """The earliest local day with any rollup row (what "all time" starts at)."""
    return CourseDay.objects.filter(creator=creator).aggregate(d=Min("day"))["d"]


def _days(qs: Any, rng: DateRange) -> Any:
    return qs.filter(day__gte=rng.start, day__lte=rng.end)


def _course(qs: Any, course_id: int | None, field: str = "course_id") -> Any:
    return qs.filter(**{field: course_id}) if course_id else qs


def overview(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """The five cards for one period: {active_students, watch_seconds, lesson_completions,
    questions, questions_not_covered} (watch_seconds in seconds, others counts)."""
    sums = _course(_days(CourseDay.objects.filter(creator=creator), rng), course_id).aggregate(
        w=Sum("watch_seconds"),
        c=Sum("completions"),
        q=Sum("questions"),
        nc=Sum("questions_not_covered"),
    )
    active = _course(_days(StudentDay.objects.filter(creator=creator), rng), course_id).aggregate(
        n=Count("user_id", distinct=True)
    )["n"]
    return {
        "active_students": active or 0,
        "watch_seconds": round(sums["w"] or 0.0, 1),
        "lesson_completions": sums["c"] or 0,
        "questions": sums["q"] or 0,
        "questions_not_covered": sums["nc"] or 0,
    }


def overview_compare(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """overview() of the range plus {"previous": overview() of the period before it}."""
    now = overview(creator=creator, rng=rng, course_id=course_id)
    now["previous"] = overview(creator=creator, rng=rng.previous(), course_id=course_id)
    return now


def cards(data: dict) -> list[dict]:
    """Card view-models: {key, label, value, previous, delta, delta_pct, good} per key."""
    labels = {
        "active_students": "Active students",
        "watch_seconds": "Watch time",
        "lesson_completions": "Lesson completions",
        "questions": "Questions asked",
        "questions_not_covered": "Questions not covered",
    }
    out = []
    for key in CARD_KEYS:
        value, prev = data[key], data["previous"][key]
        delta = value - prev
        pct = None if not prev else round(100.0 * delta / prev)
        # More of everything is good, except questions the videos did not cover.
        good = delta <= 0 if key == "questions_not_covered" else delta >= 0
        out.append(
            {
                "key": key,
                "label": labels[key],
                "value": value,
                "previous": prev,
                "delta": delta,
                "delta_pct": pct,
                "good": good,
            }
        )
    return out


def daily(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Per-day (or per-week past WEEKLY_AFTER_DAYS) series for the activity charts.

    {"unit": "day"|"week", "x": [date], "active_students": [int], "watch_seconds": [float],
    "questions": [int], "not_covered": [int], "completions": [int]} — every period of the
    range present (zeros where nothing happened).
    """
    weekly = rng.days > WEEKLY_AFTER_DAYS

    def period(d: date) -> date:
        return d - timedelta(days=d.weekday()) if weekly else d

    xs: list[date] = []
    d = period(rng.start)
    while d <= rng.end:
        xs.append(d)
        d += timedelta(days=7 if weekly else 1)
    rows = _course(_days(CourseDay.objects.filter(creator=creator), rng), course_id)
    agg: dict[date, list] = defaultdict(lambda: [0.0, 0, 0, 0])
    for day, w, q, nc, c in rows.values_list(
        "day", "watch_seconds", "questions", "questions_not_covered", "completions"
    ):
        a = agg[period(day)]
        a[0] += w
        a[1] += q
        a[2] += nc
        a[3] += c
    students = _course(_days(StudentDay.objects.filter(creator=creator), rng), course_id)
    active: dict[date, set] = defaultdict(set)
    for day, user in students.values_list("day", "user_id").distinct():
        active[period(day)].add(user)
    return {
        "unit": "week" if weekly else "day",
        "x": xs,
        "active_students": [len(active.get(x, ())) for x in xs],
        "watch_seconds": [round(agg[x][0], 1) if x in agg else 0.0 for x in xs],
        "questions": [agg[x][1] if x in agg else 0 for x in xs],
        "not_covered": [agg[x][2] if x in agg else 0 for x in xs],
        "completions": [agg[x][3] if x in agg else 0 for x in xs],
    }


def top_videos(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> list[dict]:
    """Per video in the range: {video_id, title, watch_seconds, viewers, completions,
    completion_rate (0..1: students who completed it in the range / its viewers)}, sorted by
    watch time (all videos with activity; callers slice)."""
    from courses.models import LessonProgress
    from videos.models import Video

    sessions = _course(_days(WatchSession.objects.filter(creator=creator), rng), course_id)
    per = {
        vid: {"video_id": vid, "watch_seconds": round(w or 0.0, 1), "viewers": n, "completions": 0}
        for vid, w, n in sessions.exclude(video=None)
        .values_list("video_id")
        .annotate(w=Sum("watch_seconds"), n=Count("user_id", distinct=True))
        .order_by()
    }
    lo, hi = rng.bounds_utc()
    done = LessonProgress.objects.filter(
        creator=creator, completed_at__gte=lo, completed_at__lt=hi, lesson__video__isnull=False
    )
    done = _course(done, course_id, "lesson__module__course_id")
    for vid, n in (
        done.values_list("lesson__video_id").annotate(n=Count("user_id", distinct=True)).order_by()
    ):
        per.setdefault(vid, {"video_id": vid, "watch_seconds": 0.0, "viewers": 0})
        per[vid]["completions"] = n
    titles = dict(Video.objects.filter(creator=creator, pk__in=per).values_list("pk", "title"))
    out = []
    for vid, row in per.items():
        viewers = max(row["viewers"], row["completions"])
        row["title"] = titles.get(vid, f"Video {vid}")
        row["completion_rate"] = round(row["completions"] / viewers, 3) if viewers else 0.0
        out.append(row)
    out.sort(key=lambda r: (-r["watch_seconds"], r["title"]))
    return out


def engagement(*, creator: Creator, video_id: int, rng: DateRange) -> dict:
    """The engagement graph of one of the creator's videos over the range.

    {"bucket_seconds": 5, "duration": float seconds, "buckets": [{start, unique_viewers,
    plays}], "questions": [{start, count}]}. Raises Http404 for another creator's video.
    """
    from videos.models import Video

    video = Video.objects.filter(creator=creator, pk=video_id).values("duration_seconds").first()
    if video is None:
        raise Http404("No such video.")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT b.i - 1, SUM(b.p), COUNT(DISTINCT s.user_id) FILTER (WHERE b.p > 0) "
            "FROM analytics_watchsession s, unnest(s.buckets) WITH ORDINALITY AS b(p, i) "
            "WHERE s.creator_id = %s AND s.video_id = %s AND s.day BETWEEN %s AND %s "
            "GROUP BY b.i ORDER BY b.i",
            [creator.pk, video_id, rng.start, rng.end],
        )
        rows = cur.fetchall()
    duration = float(video["duration_seconds"] or 0.0)
    size = max(math.ceil(duration / BUCKET_SECONDS), len(rows) and rows[-1][0] + 1)
    plays, viewers = [0] * size, [0] * size
    for i, p, n in rows:
        plays[i], viewers[i] = int(p or 0), int(n or 0)
    questions = (
        _days(QuestionFact.objects.filter(creator=creator, video_id=video_id), rng)
        .exclude(position=None)
        .values_list("position", flat=True)
    )
    qcount: dict[int, int] = defaultdict(int)
    for pos in questions:
        qcount[int(max(0.0, pos) // BUCKET_SECONDS)] += 1
    return {
        "bucket_seconds": BUCKET_SECONDS,
        "duration": duration or size * BUCKET_SECONDS,
        "buckets": [
            {"start": i * BUCKET_SECONDS, "unique_viewers": viewers[i], "plays": plays[i]}
            for i in range(size)
        ],
        "questions": [{"start": i * BUCKET_SECONDS, "count": qcount[i]} for i in sorted(qcount)],
    }


def lesson_counts(*, creator: Creator) -> dict[int, int]:
    """{course_id: number of lessons} of the creator's courses."""
    from courses.models import Lesson

    return dict(
        Lesson.objects.filter(creator=creator)
        .values_list("module__course_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def progress_as_of(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """{(user, course): {"started": True, "done": lessons completed}} at the range's end."""
    return _progress_as_of(creator, rng.bounds_utc()[1], course_id)


def _progress_as_of(creator: Creator, hi: Any, course_id: int | None) -> dict[tuple, dict]:
    """{(user, course): {"started": bool, "done": completed lessons}} as of `hi`."""
    from courses.models import LessonProgress

    qs = LessonProgress.objects.filter(creator=creator, started_at__lt=hi)
    qs = _course(qs, course_id, "lesson__module__course_id")
    return {
        (u, c): {"started": True, "done": done}
        for u, c, done in qs.values_list("user_id", "lesson__module__course_id")
        .annotate(done=Count("id", filter=Q(completed_at__lt=hi)))
        .order_by()
    }


def funnel(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    lessons: dict | None = None,
    progress: dict | None = None,
) -> dict:
    """Students who enrolled in the range and how far they got by its end:
    {"enrolled", "started", "half", "completed"} (counts of student-course pairs; "half" =
    at least 50% of the course's lessons completed, "completed" = all of them)."""
    from courses.models import Enrollment

    lo, hi = rng.bounds_utc()
    enrolled = _course(
        Enrollment.objects.filter(creator=creator, enrolled_at__gte=lo, enrolled_at__lt=hi),
        course_id,
    ).values_list("user_id", "course_id")
    pairs = set(enrolled)
    progress = _progress_as_of(creator, hi, course_id) if progress is None else progress
    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    out = {"enrolled": len(pairs), "started": 0, "half": 0, "completed": 0}
    for pair in pairs:
        p = progress.get(pair)
        if not p:
            continue
        total = lessons.get(pair[1], 0) or 1
        out["started"] += 1
        out["half"] += p["done"] * 2 >= total
        out["completed"] += p["done"] >= total
    return out


def progress_distribution(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    lessons: dict | None = None,
    progress: dict | None = None,
) -> list[dict]:
    """Students active in the range by course progress at its end:
    [{"label": "0-30%", "students": n}, ...] (PROGRESS_BINS; progress = completed lessons /
    the course's lessons, Thinkific's definition)."""
    _lo, hi = rng.bounds_utc()
    active = set(
        _course(_days(StudentDay.objects.filter(creator=creator), rng), course_id)
        .exclude(course=None)
        .values_list("user_id", "course_id")
        .distinct()
    )
    progress = _progress_as_of(creator, hi, course_id) if progress is None else progress
    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    counts = [0] * len(PROGRESS_BINS)
    for pair in active:
        total = lessons.get(pair[1], 0) or 1
        pct = 100.0 * (progress.get(pair, {}).get("done", 0)) / total
        for i, (_label, lo_pct, hi_pct) in enumerate(PROGRESS_BINS):
            if lo_pct <= pct < hi_pct or (i == 0 and pct < 0):
                counts[i] += 1
                break
    return [{"label": b[0], "students": n} for b, n in zip(PROGRESS_BINS, counts, strict=True)]


def cohorts(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Weekly enrolment cohorts x weeks since enrolment (PostHog-style retention).

    {"cohorts": [week start date], "weeks": [0..N], "size": [students per cohort],
    "retention": [[share 0..1 or None (week not reached yet)]]} — share of the cohort with
    any activity (watching, completing, asking) in that course during week N.
    """
    from courses.models import Enrollment

    tz = tz_of(creator)
    lo, hi = rng.bounds_utc()
    course_sql = "AND e.course_id = %s" if course_id else ""
    params: list[Any] = [tz, creator.pk, lo, hi] + ([course_id] if course_id else [])
    table = Enrollment._meta.db_table
    sql = f"""
        WITH e AS (
            SELECT e.user_id, e.course_id, (e.enrolled_at AT TIME ZONE %s)::date AS d
            FROM {table} e
            WHERE e.creator_id = %s AND e.enrolled_at >= %s AND e.enrolled_at < %s {course_sql}
        )
        SELECT (e.d - extract(isodow FROM e.d)::int + 1) AS cohort,
               (s.day - e.d) / 7 AS week,
               COUNT(DISTINCT e.user_id) AS n
        FROM e JOIN analytics_studentday s
          ON s.user_id = e.user_id AND s.course_id = e.course_id
         AND s.day >= e.d AND s.day <= %s
        GROUP BY 1, 2
        UNION ALL
        SELECT (e.d - extract(isodow FROM e.d)::int + 1), -1, COUNT(*) FROM e GROUP BY 1
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*params, rng.end])
        rows = cur.fetchall()
    size: dict[date, int] = {}
    active: dict[tuple, int] = {}
    for cohort, week, n in rows:
        if week == -1:
            size[cohort] = n
        elif week < COHORT_WEEKS:
            active[(cohort, week)] = n
    starts = sorted(size)
    weeks = list(range(COHORT_WEEKS))
    matrix = []
    for c in starts:
        reached = (rng.end - c).days // 7
        matrix.append(
            [round(active.get((c, w), 0) / size[c], 3) if w <= reached else None for w in weeks]
        )
    return {
        "cohorts": starts,
        "weeks": weeks,
        "size": [size[c] for c in starts],
        "retention": matrix,
    }


def confusion(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> dict:
    """Questions placed on video timelines in the range, for the confusion heatmap.

    {"videos": [{video_id, title, duration}], "bin_seconds": int, "z": [[count per bin]]}
    for the (up to TOP_VIDEOS) videos with the most placed questions.
    """
    from videos.models import Video

    qs = _course(_days(QuestionFact.objects.filter(creator=creator), rng), course_id)
    qs = qs.exclude(video=None).exclude(position=None)
    top = list(
        qs.values_list("video_id").annotate(n=Count("id")).order_by("-n", "video_id")[:TOP_VIDEOS]
    )
    ids = [v for v, _n in top]
    videos = {
        v["pk"]: v
        for v in Video.objects.filter(creator=creator, pk__in=ids).values(
            "pk", "title", "duration_seconds"
        )
    }
    longest = max([videos[v]["duration_seconds"] or 0 for v in ids if v in videos] + [60.0])
    bin_seconds = max(BUCKET_SECONDS, math.ceil(longest / 60 / BUCKET_SECONDS) * BUCKET_SECONDS)
    nbins = math.ceil(longest / bin_seconds)
    z = {v: [0] * nbins for v in ids}
    for vid, pos in qs.filter(video_id__in=ids).values_list("video_id", "position"):
        z[vid][min(nbins - 1, int(max(0.0, pos) // bin_seconds))] += 1
    return {
        "videos": [
            {
                "video_id": v,
                "title": videos.get(v, {}).get("title", f"Video {v}"),
                "duration": videos.get(v, {}).get("duration_seconds"),
            }
            for v in ids
        ],
        "bin_seconds": bin_seconds,
        "z": [z[v] for v in ids],
    }


def question_groups(
    *, creator: Creator, rng: DateRange, course_id: int | None = None, limit: int = 10
) -> list[dict]:
    """Most asked questions grouped by similarity.

    Similarity: the questions' English lexeme sets (Postgres to_tsvector: stemmed, stop
    words removed) — equal sets form one group; groups whose sets have Jaccard similarity
    >= SIMILARITY merge (single link, among the GROUP_CANDIDATES most frequent sets).
    Returns [{"question": most frequent wording, "count", "not_covered", "examples": [str]}].
    """
    qs = _course(_days(QuestionFact.objects.filter(creator=creator), rng), course_id)
    keys = list(
        qs.exclude(lexemes="")
        .values_list("lexemes")
        .annotate(n=Count("id"), nc=Count("id", filter=Q(covered=False)), text=Max("text"))
        .order_by("-n", "lexemes")[:GROUP_CANDIDATES]
    )
    sets = [frozenset(k.split()) for k, *_ in keys]
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(keys)):
        for j in range(i):
            union = len(sets[i] | sets[j])
            if union and len(sets[i] & sets[j]) / union >= SIMILARITY:
                parent[find(i)] = find(j)
    groups: dict[int, dict] = {}
    for i, (_k, n, nc, text) in enumerate(keys):
        g = groups.setdefault(
            find(i), {"question": text, "count": 0, "not_covered": 0, "examples": []}
        )
        g["count"] += n
        g["not_covered"] += nc
        if len(g["examples"]) < 3 and text not in g["examples"]:
            g["examples"].append(text)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["question"]))[:limit]


def not_covered(
    *, creator: Creator, rng: DateRange, course_id: int | None = None, limit: int = 20
) -> list[dict]:
    """Questions the videos did not cover in the range, newest first, one per lexeme set:
    [{"message_id", "text", "asked_at", "count", "video_id"}] (count: times asked)."""
    qs = _course(_days(QuestionFact.objects.filter(creator=creator), rng), course_id)
    rows = (
        qs.filter(covered=False)
        .values("lexemes")
        .annotate(n=Count("id"), last=Max("asked_at"), mid=Max("message_id"), text=Max("text"))
        .order_by("-last")[:limit]
    )
    return [
        {"message_id": r["mid"], "text": r["text"], "asked_at": r["last"], "count": r["n"]}
        for r in rows
    ]


def students(
    *,
    creator: Creator,
    rng: DateRange,
    course_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    lessons: dict | None = None,
) -> list[dict]:
    """Students with activity in the range, most watch time first:
    [{user_id, name, email, watch_seconds, questions, completions, last_active (date),
    progress (0..1: completed lessons / lessons of the courses they touched)}]."""
    from creators.models import User

    qs = _course(_days(StudentDay.objects.filter(creator=creator), rng), course_id)
    rows = list(
        qs.values("user_id")
        .annotate(w=Sum("watch_seconds"), q=Sum("questions"), c=Sum("completions"))
        .order_by("-w", "user_id")[offset : offset + limit]
    )
    ids = [r["user_id"] for r in rows]
    last = dict(
        StudentDay.objects.filter(creator=creator, user_id__in=ids)
        .values_list("user_id")
        .annotate(d=Max("day"))
        .order_by()
    )
    people = {
        u.pk: u for u in User.objects.filter(pk__in=ids).only("display_name", "email", "username")
    }
    progress = _user_progress(creator, ids, course_id, lessons)
    return [
        {
            "user_id": r["user_id"],
            "name": str(people[r["user_id"]]) if r["user_id"] in people else "—",
            "email": people[r["user_id"]].email if r["user_id"] in people else "",
            "watch_seconds": round(r["w"] or 0.0, 1),
            "questions": r["q"] or 0,
            "completions": r["c"] or 0,
            "last_active": last.get(r["user_id"]),
            "progress": progress.get(r["user_id"], 0.0),
        }
        for r in rows
    ]


def _user_progress(
    creator: Creator, user_ids: list[int], course_id: int | None, lessons: dict | None = None
) -> dict:
    """{user_id: completed lessons / lessons of the courses the user enrolled in or touched}."""
    from courses.models import Enrollment, LessonProgress

    lessons = lesson_counts(creator=creator) if lessons is None else lessons
    touched: dict[int, set] = defaultdict(set)
    done: dict[int, int] = defaultdict(int)
    prog = _course(
        LessonProgress.objects.filter(creator=creator, user_id__in=user_ids),
        course_id,
        "lesson__module__course_id",
    )
    for u, c, n in (
        prog.values_list("user_id", "lesson__module__course_id")
        .annotate(n=Count("id", filter=Q(completed_at__isnull=False)))
        .order_by()
    ):
        touched[u].add(c)
        done[u] += n
    enr = _course(Enrollment.objects.filter(creator=creator, user_id__in=user_ids), course_id)
    for u, c in enr.values_list("user_id", "course_id"):
        touched[u].add(c)
    return {
        u: round(min(1.0, done[u] / max(1, sum(lessons.get(c, 0) for c in cs))), 3)
        for u, cs in touched.items()
    }


def student_get(*, creator: Creator, user_id: int) -> Any:
    """A user with any analytics row or membership at this creator; Http404 otherwise."""
    from creators.models import Membership, User

    user = User.objects.filter(pk=user_id).first()
    if user is None or not (
        StudentDay.objects.filter(creator=creator, user_id=user_id).exists()
        or Membership.objects.filter(creator=creator, user_id=user_id).exists()
    ):
        raise Http404("No such student.")
    return user


def student_detail(*, creator: Creator, user_id: int, rng: DateRange) -> dict:
    """One student's page: daily watch time, lesson progress rows and recent questions."""
    from courses.models import LessonProgress

    days = _days(StudentDay.objects.filter(creator=creator, user_id=user_id), rng)
    per_day: dict[date, list] = defaultdict(lambda: [0.0, 0])
    for d, w, q in days.values_list("day", "watch_seconds", "questions"):
        per_day[d][0] += w
        per_day[d][1] += q
    lessons = list(
        LessonProgress.objects.filter(creator=creator, user_id=user_id)
        .select_related("lesson", "lesson__video", "lesson__module__course")
        .order_by("lesson__module__course__title", "lesson__module__position", "lesson__position")
    )
    questions = list(
        _days(QuestionFact.objects.filter(creator=creator, user_id=user_id), rng)
        .select_related("video")
        .order_by("-asked_at")[:50]
    )
    xs = [rng.start + timedelta(days=i) for i in range(rng.days)]
    return {
        "x": xs,
        "watch_seconds": [round(per_day[x][0], 1) if x in per_day else 0.0 for x in xs],
        "questions_per_day": [per_day[x][1] if x in per_day else 0 for x in xs],
        "lessons": lessons,
        "questions": questions,
        "totals": {
            "watch_seconds": round(sum(v[0] for v in per_day.values()), 1),
            "questions": sum(v[1] for v in per_day.values()),
        },
    }


def students_count(*, creator: Creator, rng: DateRange, course_id: int | None = None) -> int:
    """How many students were active in the range."""
    qs = _course(_days(StudentDay.objects.filter(creator=creator), rng), course_id)
    return qs.aggregate(n=Count("user_id", distinct=True))["n"] or 0
