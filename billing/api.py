"""REST for a creator's plan, under /api/v1/.

    GET /api/v1/usage/[?creator=<handle>]  -> {tier, period_start, period_end,
        limits: {videos, storage_bytes, file_bytes, ai_questions_per_month, students,
                 questions_per_student, questions_per_student_period: "day"|"total"},
        used: {videos, storage_bytes, ai_questions, students}}

null means unlimited; bytes are bytes; the period is the creator's calendar month in
Creator.timezone (ISO 8601 datetimes). The caller must manage the creator (else 404).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from billing.selectors import usage_summary
from chronos.api import ERROR_RESPONSES
from creators.selectors import creator_for_api


def _limit() -> serializers.IntegerField:
    return serializers.IntegerField(allow_null=True, help_text="null = unlimited")


UsageSerializer = inline_serializer(
    "Usage",
    {
        "tier": serializers.CharField(),
        "period_start": serializers.DateTimeField(),
        "period_end": serializers.DateTimeField(),
        "limits": inline_serializer(
            "UsageLimits",
            {
                "videos": _limit(),
                "storage_bytes": _limit(),
                "file_bytes": _limit(),
                "ai_questions_per_month": _limit(),
                "students": _limit(),
                "questions_per_student": _limit(),
                "questions_per_student_period": serializers.ChoiceField(["day", "total"]),
            },
        ),
        "used": inline_serializer(
            "UsageUsed",
            {
                "videos": serializers.IntegerField(),
                "storage_bytes": serializers.IntegerField(),
                "ai_questions": serializers.IntegerField(),
                "students": serializers.IntegerField(),
            },
        ),
    },
)


@extend_schema(
    tags=["billing"],
    parameters=[OpenApiParameter("creator", str, description="Studio handle")],
    responses={200: UsageSerializer, **ERROR_RESPONSES},
)
@api_view(["GET"])
def usage(request: Request) -> Response:
    creator = creator_for_api(user=request.user, handle=request.query_params.get("creator"))
    return Response(usage_summary(creator=creator).as_contract())
