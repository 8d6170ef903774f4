"""REST for a creator's plan, under /api/v1/.

    GET /api/v1/usage/[?creator=<handle>]  -> {tier, period_start, period_end,
        limits: {videos, storage_bytes, file_bytes, ai_questions_per_month, students,
                 questions_per_student, questions_per_student_period: "day"|"total"},
        used: {videos, storage_bytes, ai_questions, students}}

null means unlimited; bytes are bytes; the period is the creator's calendar month in
Creator.timezone (ISO 8601 datetimes). The caller must manage the creator (else 404).
"""

from __future__ import annotations

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from billing.selectors import usage_summary
from creators.selectors import creator_for_api


@api_view(["GET"])
def usage(request: Request) -> Response:
    creator = creator_for_api(user=request.user, handle=request.query_params.get("creator"))
    return Response(usage_summary(creator=creator).as_contract())
