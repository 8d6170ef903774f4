"""REST API for analytics (mounted under /api/v1/; creators and their team only).

GET /api/v1/analytics/overview/?range=7d|30d|90d|all (or from=&to=)[&creator=<handle>]
  -> {range, from, to, active_students, watch_seconds, lesson_completions, questions,
      questions_not_covered, previous: {the same five keys}}
GET /api/v1/analytics/videos/<id>/engagement/?range=...
  -> {bucket_seconds: 5, duration, buckets: [{start, unique_viewers, plays}],
      questions: [{start, count}]}
GET /api/v1/analytics/export/?report=videos|students|questions|watch&range=... (or from=&to=)
  -> the studio's CSV export (analytics.exports: streamed, UTF-8 with a BOM, named
     <handle>-<report>-<from>-<to>.csv) for API clients, in the API's auth and error shape

`creator` may be omitted when the user manages exactly one creator. A student, or any id of
another creator, gets 404. Bad range -> 400 with the error shape of chronos.api.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from analytics import exports, selectors
from analytics.caching import rollup_cached
from analytics.ranges import range_parse, tz_of
from chronos.api import ERROR_RESPONSES
from creators.selectors import creator_for_api

_RANGE_PARAMETERS = [
    OpenApiParameter("range", str, enum=["7d", "30d", "90d", "all"]),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day, with `to`"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (inclusive), with `from`"),
    OpenApiParameter("creator", str, description="Studio handle"),
]


def _totals() -> dict[str, serializers.Field]:
    return {
        "active_students": serializers.IntegerField(),
        "watch_seconds": serializers.FloatField(),
        "lesson_completions": serializers.IntegerField(),
        "questions": serializers.IntegerField(),
        "questions_not_covered": serializers.IntegerField(),
    }


OverviewSerializer = inline_serializer(
    "AnalyticsOverview",
    {
        "range": serializers.CharField(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        **_totals(),
        "previous": inline_serializer("AnalyticsTotals", _totals()),
    },
)

EngagementSerializer = inline_serializer(
    "AnalyticsEngagement",
    {
        "bucket_seconds": serializers.IntegerField(),
        "duration": serializers.FloatField(),
        "buckets": inline_serializer(
            "EngagementBucket",
            {
                "start": serializers.IntegerField(),
                "unique_viewers": serializers.IntegerField(),
                "plays": serializers.IntegerField(),
            },
            many=True,
        ),
        "questions": inline_serializer(
            "EngagementQuestions",
            {"start": serializers.IntegerField(), "count": serializers.IntegerField()},
            many=True,
        ),
    },
)


def _creator_and_range(request: Request):
    creator = creator_for_api(user=request.user, handle=request.query_params.get("creator"))
    rng = range_parse(
        request.query_params, tz=tz_of(creator), first_day=selectors.first_day(creator=creator)
    )
    return creator, rng


@extend_schema(
    tags=["analytics"],
    parameters=_RANGE_PARAMETERS,
    responses={200: OverviewSerializer, **ERROR_RESPONSES},
)
@api_view(["GET"])
def overview(request: Request) -> Response:
    """The dashboard's five cards for the range and the previous period of equal length."""
    creator, rng = _creator_and_range(request)
    data = selectors.overview_compare(creator=creator, rng=rng)
    return Response(
        {"range": rng.key, "from": rng.start.isoformat(), "to": rng.end.isoformat(), **data}
    )


@extend_schema(
    tags=["analytics"],
    parameters=_RANGE_PARAMETERS,
    responses={200: EngagementSerializer, **ERROR_RESPONSES},
)
@api_view(["GET"])
def engagement(request: Request, video_id: int) -> Response:
    """Unique viewers and plays per 5-second bucket of one video, and its placed questions."""
    creator, rng = _creator_and_range(request)
    data = rollup_cached(
        creator=creator,
        key=f"engagement:{video_id}:{rng.tz}:{rng.start}:{rng.end}",
        compute=lambda: selectors.engagement(creator=creator, video_id=video_id, rng=rng),
    )
    return Response(data)


@extend_schema(
    tags=["analytics"],
    operation_id="v1_analytics_export",
    parameters=[
        OpenApiParameter("report", str, enum=list(exports.REPORTS), required=True),
        *_RANGE_PARAMETERS,
    ],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="CSV, UTF-8 with a BOM, as an attachment <handle>-<report>-<from>-<to>.csv",
        ),
        **ERROR_RESPONSES,
    },
)
@api_view(["GET"])
def export(request: Request) -> StreamingHttpResponse:
    """The studio's CSV export of one report over the range, streamed (constant memory)."""
    creator, rng = _creator_and_range(request)
    return exports.csv_download(
        creator=creator, report=request.query_params.get("report", ""), rng=rng
    )
