"""Writes for courses, one module per job; the names others use are re-exported here:

- builder: courses, modules and lessons (create/update/delete)
- order: the whole order of a course (PUT /order/) and one-step moves
- enrollment: created on first visit, switched with the membership
- watch: player events stored append-only and folded into LessonProgress (the fast
  lane's heartbeats queued and folded in bulk)
- notes: timestamped lesson notes

Keyword-only, typed, transactional. Errors: chronos.errors.DomainError with field
messages for bad input (the API renders it as a 400 {"error", "code": "invalid",
"fields"}); lookups of objects the caller may not touch happen in courses.selectors
(Http404).
"""

from courses.services.builder import (
    course_create,
    course_delete,
    course_update,
    lesson_create,
    lesson_delete,
    lesson_update,
    module_create,
    module_delete,
    module_update,
)
from courses.services.enrollment import enrollment_ensure, enrollments_sync_membership
from courses.services.notes import note_create, note_delete, note_update
from courses.services.order import course_order_set, lesson_move, module_move
from courses.services.watch import (
    MAX_EVENTS_PER_BATCH,
    CleanEvent,
    WatchResult,
    playable_verdict_stamp,
    watch_event_clean,
    watch_events_record,
    watch_heartbeats_append,
    watch_pending_fold,
)

__all__ = [
    "MAX_EVENTS_PER_BATCH",
    "CleanEvent",
    "WatchResult",
    "course_create",
    "course_delete",
    "course_order_set",
    "course_update",
    "enrollment_ensure",
    "enrollments_sync_membership",
    "lesson_create",
    "lesson_delete",
    "lesson_move",
    "lesson_update",
    "module_create",
    "module_delete",
    "module_move",
    "module_update",
    "note_create",
    "note_delete",
    "note_update",
    "playable_verdict_stamp",
    "watch_event_clean",
    "watch_events_record",
    "watch_heartbeats_append",
    "watch_pending_fold",
]
