"""HTML views of courses: the creator's builder (studio.py) and the student's catalog,
course and lesson pages (learn.py). Thin: access through courses.selectors, writes through
courses.services; htmx requests get named partials."""

from courses.views.learn import *  # noqa: F403
from courses.views.studio import *  # noqa: F403
