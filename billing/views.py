"""Studio pages of billing: team & settings, Plan & usage (meters, tier table, upgrades,
history), Costs (what AI cost, charts, CSV)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import costs
from billing.limits import TIER_LIMITS, TIER_ORDER, limits_for, tiers_above
from billing.selectors import (
    billing_status_for,
    payments_for,
    tier_changes_for,
    usage_summary,
    usage_totals,
)
from billing.services.checkout import checkout_url_create, upgrade_blocker
from billing.services.payments import tier_changes_apply_due
from chronos.errors import DomainError
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
            "studio_section": "settings",
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


@login_required
def plan(request, handle: str):
    """Plan & usage: a meter per limit, the period, the tier table with upgrades, history."""
    creator = creator_get_managed(user=request.user, handle=handle)
    if tier_changes_apply_due():
        creator.refresh_from_db(fields=["tier"])
    summary = usage_summary(creator=creator)
    higher = tiers_above(creator.tier)
    return render(
        request,
        "billing/plan.html",
        {
            "creator": creator,
            "studio_section": "plan",
            "summary": summary,
            "tiers": [TIER_LIMITS[t] for t in TIER_ORDER],
            "higher": higher,
            "blocker": upgrade_blocker(tiers=higher),
            "changes": tier_changes_for(creator=creator)[:20],
            "students": summary.meter("students"),
            "students_over": summary.limits.students is not None
            and summary.meter("students").used > summary.limits.students,
        },
    )


@login_required
@require_POST
def upgrade(request, handle: str):
    """POST tier=<basic|pro|enterprise> -> 303 to Whop's purchase URL (or back, explained)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        url = checkout_url_create(creator=creator, tier=request.POST.get("tier", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:plan", handle=creator.handle)
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


@login_required
def costs_page(request, handle: str):
    """What Chronos spent on AI for this creator this month, from the usage ledger."""
    creator = creator_get_managed(user=request.user, handle=handle)
    report = costs.cost_report(creator=creator)
    charts = [
        ("cost-by-day", "Per day", costs.figure_by_day(report), bool(report.by_day)),
        (
            "cost-by-op",
            "Per operation",
            costs.figure_by_operation(report),
            bool(report.by_operation),
        ),
        ("cost-by-video", "Per video", costs.figure_bars(report.by_video), bool(report.by_video)),
        (
            "cost-by-course",
            "Per course",
            costs.figure_bars(report.by_course, colour="#b45309"),
            bool(report.by_course),
        ),
    ]
    return render(
        request,
        "billing/costs.html",
        {"creator": creator, "studio_section": "costs", "report": report, "charts": charts},
    )


@login_required
def costs_csv(request, handle: str):
    creator = creator_get_managed(user=request.user, handle=handle)
    response = HttpResponse(costs.cost_csv(creator=creator), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m")
    response["Content-Disposition"] = (
        f'attachment; filename="chronos-costs-{creator.handle}-{stamp}.csv"'
    )
    return response
