"""Analytics reads for one creator (already resolved through creators.selectors by the view
or API, so another tenant's creator never gets here). Every read takes the DateRange and,
optionally, one course; all come from the rollup tables except enrolment/progress facts,
which are read directly (bounded by the creator's students x lessons).

Units: seconds (float) for time, dates are local dates in the creator's time zone.

One module per job: common (filters, first day, the active students' sets), overview
(cards, daily series), videos (top videos, engagement, confusion), progress (funnel,
progress spread, cohorts), questions (grouped and not-covered questions), students (the
table and one student's page).
"""

from analytics.selectors.common import ActiveSets, active_sets, first_day, in_range, of_course
from analytics.selectors.overview import (
    CARD_KEYS,
    WEEKLY_AFTER_DAYS,
    cards,
    daily,
    overview,
    overview_compare,
)
from analytics.selectors.progress import (
    COHORT_WEEKS,
    PROGRESS_BINS,
    cohorts,
    funnel,
    lesson_counts,
    progress_distribution,
    progress_summary,
)
from analytics.selectors.questions import (
    GROUP_CANDIDATES,
    SIMILARITY,
    not_covered,
    question_groups,
    questions_summary,
)
from analytics.selectors.students import (
    student_detail,
    student_get,
    students,
    students_count,
)
from analytics.selectors.videos import TOP_VIDEOS, confusion, engagement, top_videos

__all__ = [
    "CARD_KEYS",
    "COHORT_WEEKS",
    "GROUP_CANDIDATES",
    "PROGRESS_BINS",
    "SIMILARITY",
    "TOP_VIDEOS",
    "WEEKLY_AFTER_DAYS",
    "ActiveSets",
    "active_sets",
    "cards",
    "cohorts",
    "confusion",
    "daily",
    "engagement",
    "first_day",
    "funnel",
    "in_range",
    "lesson_counts",
    "not_covered",
    "of_course",
    "overview",
    "overview_compare",
    "progress_distribution",
    "progress_summary",
    "question_groups",
    "questions_summary",
    "student_detail",
    "student_get",
    "students",
    "students_count",
    "top_videos",
]
