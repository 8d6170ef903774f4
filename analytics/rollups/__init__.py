"""Rollup writes: fold watch events, progress and questions into analytics tables.

`rollup_update` is incremental (the 5-minute django-q2 schedule): it reads only facts newer
than the creator's watermarks (minus OVERLAP_SECONDS, so rows whose transaction committed
late are not missed; re-folding is idempotent) and recomputes just the sessions, questions,
students, days and per-video buckets (analytics.buckets) they touch. `rollup_rebuild`
deletes a creator's rollups and folds everything again; the two always agree
(tests/test_analytics_rollups.py proves it on random event streams).

Definitions (Open edX Insights' 5-second segments; xAPI video "played segments"):
- a played segment is a WatchEvent's [time_from, time_to] for any verb but "seeked" (a seek
  moves the playhead, it plays nothing); segments are ordered by seq, never by arrival.
- a run is a continuous stretch of playback: the next segment starts within
  RUN_TOLERANCE_SECONDS of where the previous ended; a rewind, skip or seek starts a new run.
- a bucket's plays = runs that overlap it (by more than 0 s); unique viewers = students with
  at least one play; replays = plays - unique viewers.

One module per job: fold (one session's events into runs and buckets), sessions
(WatchSession), questions (QuestionFact), days (StudentDay, CourseDay), run (rollup_update,
rollup_rebuild, rollup_update_all); per-video buckets live in analytics.buckets.
"""

from analytics.rollups.days import course_days_refold, students_refold
from analytics.rollups.fold import (
    BATCH,
    MAX_SEGMENT_SECONDS,
    RUN_TOLERANCE_SECONDS,
    Segment,
    SessionFold,
    fold_segments,
)
from analytics.rollups.questions import IN_FLIGHT, questions_refold
from analytics.rollups.run import (
    IN_FLIGHT_SECONDS,
    OVERLAP_SECONDS,
    rollup_rebuild,
    rollup_update,
    rollup_update_all,
)
from analytics.rollups.sessions import sessions_refold

__all__ = [
    "BATCH",
    "IN_FLIGHT",
    "IN_FLIGHT_SECONDS",
    "MAX_SEGMENT_SECONDS",
    "OVERLAP_SECONDS",
    "RUN_TOLERANCE_SECONDS",
    "Segment",
    "SessionFold",
    "course_days_refold",
    "fold_segments",
    "questions_refold",
    "rollup_rebuild",
    "rollup_update",
    "rollup_update_all",
    "sessions_refold",
    "students_refold",
]
