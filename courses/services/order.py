"""The order of a course's modules and lessons: the whole order at once (drag-drop, the
PUT /order/ contract) and one step at a time (the keyboard/touch alternative)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from courses.models import Course, Lesson, Module
from courses.services._common import _invalid


def lesson_move(*, lesson: Lesson, direction: str = "", module: Module | None = None) -> None:
    """The keyboard/touch alternative to dragging: direction "up"/"down" moves the lesson
    one place inside its module (across into the neighbouring module at the edges);
    `module` moves it to the end of another module of the same course."""
    course = lesson.module.course
    order = _current_order(course)
    flat = [(m, lid) for m, lids in order for lid in lids]
    if module is not None:
        if module.course_id != course.pk:
            raise _invalid({"module": ["That module is in another course."]})
        for _mid, lids in order:
            if lesson.pk in lids:
                lids.remove(lesson.pk)
        dict(order)[module.pk].append(lesson.pk)
    elif direction in ("up", "down"):
        index = next(i for i, (_m, lid) in enumerate(flat) if lid == lesson.pk)
        mod_ids = [m for m, _l in order]
        here = flat[index][0]
        lids = dict(order)[here]
        pos = lids.index(lesson.pk)
        step = -1 if direction == "up" else 1
        if 0 <= pos + step < len(lids):
            lids[pos], lids[pos + step] = lids[pos + step], lids[pos]
        else:
            target = mod_ids.index(here) + step
            if not 0 <= target < len(mod_ids):
                return
            lids.remove(lesson.pk)
            other = dict(order)[mod_ids[target]]
            if step < 0:
                other.append(lesson.pk)
            else:
                other.insert(0, lesson.pk)
    else:
        raise _invalid({"direction": ['Move "up", "down" or to a module.']})
    course_order_set(course=course, order=[{"id": m, "lessons": lids} for m, lids in order])


def module_move(*, module: Module, direction: str) -> None:
    """Move a module one place up or down in its course."""
    order = _current_order(module.course)
    ids = [m for m, _l in order]
    i = ids.index(module.pk)
    j = i + (-1 if direction == "up" else 1 if direction == "down" else 0)
    if j == i or not 0 <= j < len(ids):
        if direction not in ("up", "down"):
            raise _invalid({"direction": ['Move "up" or "down".']})
        return
    order[i], order[j] = order[j], order[i]
    course_order_set(course=module.course, order=[{"id": m, "lessons": ls} for m, ls in order])


def _current_order(course: Course) -> list[tuple[int, list[int]]]:
    modules = list(Module.objects.filter(course=course).order_by("position", "id"))
    lessons = Lesson.objects.filter(module__course=course).order_by("position", "id")
    by_module: dict[int, list[int]] = {m.pk: [] for m in modules}
    for lesson in lessons.values("pk", "module_id"):
        by_module[lesson["module_id"]].append(lesson["pk"])
    return [(m.pk, by_module[m.pk]) for m in modules]


def course_order_set(*, course: Course, order: Any) -> None:
    """Replace the whole order: `order` = [{"id": module_id, "lessons": [lesson ids]}, ...],
    every module and lesson of the course exactly once; lessons may change module.
    Positions are renumbered 0..n-1 in one transaction. Raises DomainError (field
    "modules") for an id outside the course, one left out, a duplicate or a bad shape."""
    if not isinstance(order, list):
        raise _invalid({"modules": ["modules must be a list of {id, lessons}."]})
    module_ids: list[int] = []
    placement: list[tuple[int, int, int]] = []  # (lesson, module, position)
    try:
        for entry in order:
            mid = int(entry["id"])
            lessons = entry.get("lessons", [])
            if not isinstance(lessons, list):
                raise TypeError
            module_ids.append(mid)
            placement.extend((int(lid), mid, i) for i, lid in enumerate(lessons))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise _invalid(
            {"modules": ["Each module must be {id: int, lessons: [int, ...]}."]}
        ) from None
    with transaction.atomic():
        have_modules = set(
            Module.objects.select_for_update().filter(course=course).values_list("pk", flat=True)
        )
        have_lessons = set(
            Lesson.objects.filter(module__course=course).values_list("pk", flat=True)
        )
        lesson_ids = [lid for lid, _m, _p in placement]
        problems = []
        if len(set(module_ids)) != len(module_ids) or len(set(lesson_ids)) != len(lesson_ids):
            problems.append("An id appears twice.")
        if foreign := (set(module_ids) - have_modules) | (set(lesson_ids) - have_lessons):
            problems.append(f"Not in this course: {', '.join(map(str, sorted(foreign)))}.")
        if missing := (have_modules - set(module_ids)) | (have_lessons - set(lesson_ids)):
            problems.append(f"Left out: {', '.join(map(str, sorted(missing)))}.")
        if problems:
            raise _invalid({"modules": problems})
        with connection.cursor() as cur:
            if module_ids:
                cur.execute(
                    "UPDATE courses_module m SET position = v.pos FROM "
                    "unnest(%s::bigint[], %s::int[]) AS v(id, pos) WHERE m.id = v.id",
                    [module_ids, list(range(len(module_ids)))],
                )
            if placement:
                cur.execute(
                    "UPDATE courses_lesson l SET module_id = v.mid, position = v.pos FROM "
                    "unnest(%s::bigint[], %s::bigint[], %s::int[]) AS v(id, mid, pos) "
                    "WHERE l.id = v.id",
                    [
                        [p[0] for p in placement],
                        [p[1] for p in placement],
                        [p[2] for p in placement],
                    ],
                )
