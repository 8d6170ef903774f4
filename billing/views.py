"""Studio "team & settings": tier and its limits, billing status, usage, payments, team."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from billing.limits import limits_for
from billing.selectors import billing_status_for, payments_for, usage_totals
from creators.selectors import creator_get_managed, team_for, user_may_manage_team
from creators.timezones import timezone_names


@login_required
def studio_settings(request, handle: str):
    creator = creator_get_managed(user=request.user, handle=handle)
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = usage_totals(creator=creator, since=month_start)
    return render(
        request,
        "creators/studio_settings.html",
        {
            "creator": creator,
            "studio_section": "billing",
            "limits": limits_for(creator.tier),
            "billing_status": billing_status_for(creator=creator),
            "usage_month": month,
            "usage_month_usd": sum((r["usd"] or 0) for r in month),
            "usage_all": usage_totals(creator=creator),
            "payments": payments_for(creator=creator)[:5],
            "team": team_for(creator=creator),
            "can_manage_team": user_may_manage_team(creator=creator, user=request.user),
            "roles": [("editor", "Editor"), ("admin", "Admin")],
            "timezone_names": timezone_names(),
        },
    )
