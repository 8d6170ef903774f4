"""Entry pages, the Whop webhook endpoint, and studio team actions."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from creators.models import CreatorMember
from creators.selectors import creator_get_managed, creators_learnable_by, creators_managed_by
from creators.services import team_member_add, team_member_remove, webhook_receive
from creators.timezones import creator_timezone_set
from creators.webhooks import WebhookRejected

logger = logging.getLogger(__name__)


def home(request):
    """Signed out: the landing page. Signed in: the one area they have, or a chooser."""
    if not request.user.is_authenticated:
        return render(request, "creators/landing.html")
    managed = list(creators_managed_by(user=request.user).filter(is_active=True)[:50])
    learnable = [c for c in creators_learnable_by(user=request.user)[:50] if c not in managed]
    if len(managed) == 1 and not learnable:
        return redirect("videos:library", handle=managed[0].handle)
    return render(request, "creators/home.html", {"managed": managed, "learnable": learnable})


@csrf_exempt
@require_POST
def whop_webhook(request: HttpRequest):
    """POST /webhooks/whop/: verify, store, answer at once; processing runs in a task.

    200 {"status": "received"|"duplicate"}; 400 {"detail": ...} when the signature, the
    timestamp (±5 min) or the body is wrong (nothing stored).
    """
    try:
        event, created = webhook_receive(body=request.body, headers=dict(request.headers))
    except WebhookRejected as exc:
        logger.warning("Rejected Whop webhook: %s", exc)
        return JsonResponse({"detail": f"Webhook rejected: {exc}"}, status=400)
    return JsonResponse({"status": "received" if created else "duplicate", "id": event.webhook_id})


def _settings_redirect(handle: str):
    return redirect("billing:studio", handle=handle)


@login_required
@require_POST
def team_add(request: HttpRequest, handle: str):
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        member = team_member_add(
            creator=creator,
            actor=request.user,
            email=request.POST.get("email", ""),
            role=request.POST.get("role", CreatorMember.Role.EDITOR),
        )
    except PermissionError as exc:
        messages.error(request, str(exc))
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{member.user} is on the team as {member.get_role_display()}.")
    return _settings_redirect(creator.handle)


@login_required
@require_POST
def team_remove(request: HttpRequest, handle: str, member_id: int):
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        team_member_remove(creator=creator, actor=request.user, member_id=member_id)
    except CreatorMember.DoesNotExist as exc:
        raise Http404("No such team member.") from exc
    except PermissionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Team member removed.")
    return _settings_redirect(creator.handle)


@login_required
@require_POST
def timezone_set(request: HttpRequest, handle: str):
    """POST timezone=<IANA name>: the studio's time zone (daily allowances reset at its
    midnight; analytics counts days in it)."""
    creator = creator_get_managed(user=request.user, handle=handle)
    try:
        creator_timezone_set(creator=creator, timezone=request.POST.get("timezone", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Time zone set to {creator.timezone}.")
    return _settings_redirect(creator.handle)
