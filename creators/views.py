"""Entry pages, the Whop webhook endpoint, Whop app views, studio team actions, standalone
studios and join links."""

from __future__ import annotations

import logging
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chronos.api import error_json
from chronos.errors import DomainError, NotFound
from chronos.input import input_unchecked
from creators.models import CreatorMember
from creators.selectors import (
    creator_get_managed,
    creators_learnable_by,
    creators_managed_by,
    invite_by_token,
    invites_for,
    members_active_count,
    members_page,
)
from creators.services import team_member_add, team_member_remove, webhook_receive
from creators.services.invites import (
    InviteError,
    invite_check,
    invite_create,
    invite_redeem,
    invite_revoke,
    invite_send,
    studio_create,
)
from creators.services.whop_visits import whop_visit_dashboard, whop_visit_experience
from creators.timezones import creator_timezone_set
from creators.webhooks import WebhookRejected
from creators.whop import ACCESS_ADMIN, ACCESS_CUSTOMER, WhopAuthError

logger = logging.getLogger(__name__)


def home(request):
    """Signed out: the landing page. Signed in: the one area they have, or a chooser."""
    if not request.user.is_authenticated:
        return render(request, "creators/landing.html")
    managed = list(creators_managed_by(user=request.user).filter(is_active=True)[:50])
    learnable = [c for c in creators_learnable_by(user=request.user)[:50] if c not in managed]
    for creator in learnable:
        creator.catalog_url = catalog_url(creator.handle)
    if len(managed) == 1 and not learnable:
        return redirect("videos:library", handle=managed[0].handle)
    return render(request, "creators/home.html", {"managed": managed, "learnable": learnable})


@csrf_exempt
@input_unchecked  # signed raw bytes: creators.webhooks verifies first, then checks the text
@require_POST
def whop_webhook(request: HttpRequest):
    """POST /webhooks/whop/: verify, store, answer at once; processing runs in a task.

    200 {"status": "received"|"duplicate"}; 400 {"error", "code": "webhook_rejected",
    "fields": {}} when the signature, the timestamp (±5 min) or the body is wrong (nothing
    stored).
    """
    try:
        event, created = webhook_receive(body=request.body, headers=dict(request.headers))
    except WebhookRejected as exc:
        logger.warning("Rejected Whop webhook: %s", exc)
        return error_json(DomainError(f"Webhook rejected: {exc}", code="webhook_rejected"))
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
    except DomainError as exc:
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
    except NotFound:
        raise
    except DomainError as exc:
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
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Time zone set to {creator.timezone}.")
    return _settings_redirect(creator.handle)


# --- Whop app views ----------------------------------------------------------------------------


def catalog_url(handle: str) -> str:
    """The student's catalog of a creator: courses' /learn/<handle>/ page by its name
    (courses:catalog), else the learning area's home (chat:home)."""
    for name in ("courses:catalog", "chat:home"):
        try:
            return reverse(name, kwargs={"handle": handle})
        except NoReverseMatch:
            continue
    return f"/learn/{handle}/"


def _whop_page(request, template: str, context: dict, status: int = 200):
    return render(request, f"creators/{template}", context, status=status)


# Whop ids: a prefix and an opaque alphanumeric tag ("exp_XXXXXXXXXXXXXX", "biz_...").
WHOP_ID = re.compile(r"^(exp|biz)_[A-Za-z0-9]{1,60}$")


def _whop_visitor(request):
    """The signed-in Whop user, or a response asking them to open Chronos from Whop."""
    user = request.user
    if user.is_authenticated and user.whop_user_id:
        return user, None
    return None, _whop_page(request, "whop_signin.html", {}, status=401)


@require_GET
def whop_experience(request: HttpRequest, exp_id: str):
    """GET /experiences/<exp_id>/: Whop's member view. admin -> studio, customer -> the
    catalog, no access -> the purchase page. The role is asked of Whop on each visit."""
    if not WHOP_ID.match(exp_id) or not exp_id.startswith("exp_"):
        raise Http404("No such experience.")
    user, refusal = _whop_visitor(request)
    if refusal:
        return refusal
    try:
        visit = whop_visit_experience(user=user, experience_id=exp_id)
    except WhopAuthError as exc:
        logger.warning("Whop experience %s could not be resolved: %s", exp_id[:64], exc)
        return _whop_page(request, "whop_unavailable.html", {}, status=502)
    return _whop_outcome(request, visit)


@require_GET
def whop_dashboard(request: HttpRequest, biz_id: str):
    """GET /dashboard/<biz_id>/: Whop's view for the company's team -> the studio."""
    if not WHOP_ID.match(biz_id) or not biz_id.startswith("biz_"):
        raise Http404("No such company.")
    user, refusal = _whop_visitor(request)
    if refusal:
        return refusal
    try:
        visit = whop_visit_dashboard(user=user, company_id=biz_id)
    except WhopAuthError as exc:
        logger.warning("Whop dashboard %s could not be resolved: %s", biz_id[:64], exc)
        return _whop_page(request, "whop_unavailable.html", {}, status=502)
    return _whop_outcome(request, visit)


def _whop_outcome(request, visit):
    creator = visit.creator
    if visit.role in (ACCESS_ADMIN, ACCESS_CUSTOMER) and (creator is None or not creator.is_active):
        return _whop_page(request, "whop_pending.html", {"visit": visit}, status=503)
    if visit.role == ACCESS_ADMIN:
        return redirect("videos:library", handle=creator.handle)
    if visit.role == ACCESS_CUSTOMER:
        return redirect(catalog_url(creator.handle))
    return _whop_page(request, "whop_no_access.html", {"visit": visit}, status=403)


# --- Standalone: studios and join links ----------------------------------------------------------


@login_required
def studio_new(request: HttpRequest):
    """GET/POST /studio/new/: a signed-in user creates a studio and becomes its owner."""
    error = ""
    if request.method == "POST":
        try:
            creator = studio_create(
                owner=request.user, company_name=request.POST.get("company_name", "")
            )
        except InviteError as exc:
            error = str(exc)
        else:
            messages.success(request, f"{creator.company_name} is ready. Upload a first video.")
            return redirect("videos:library", handle=creator.handle)
    return render(
        request,
        "creators/studio_new.html",
        {"error": error, "company_name": request.POST.get("company_name", "")},
        status=400 if error else 200,
    )


def _int_or_none(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


@login_required
def invites(request: HttpRequest, handle: str):
    """GET/POST /studio/<handle>/students/: the studio's members (who has access, paged by
    ?page=), its join links and e-mail invites; POST creates a link or an invite."""
    creator = creator_get_managed(user=request.user, handle=handle)
    if request.method == "POST":
        try:
            invite = invite_create(
                creator=creator,
                actor=request.user,
                email=request.POST.get("email", ""),
                expires_in_days=_int_or_none(request.POST.get("expires_in_days", "")),
                max_uses=_int_or_none(request.POST.get("max_uses", "")),
            )
        except InviteError as exc:
            messages.error(request, str(exc))
        else:
            url = request.build_absolute_uri(reverse("creators:join", args=[invite.token]))
            invite_send(invite=invite, join_url=url)
            done = f"Invite sent to {invite.email}." if invite.email else "Join link created."
            messages.success(request, done)
        return redirect("creators:invites", handle=creator.handle)
    context = {
        "creator": creator,
        "studio_section": "students",
        "invites": invites_for(creator=creator),
        "members": members_page(creator=creator, page=request.GET.get("page")),
        "members_active": members_active_count(creator=creator),
        "now": timezone.now(),
    }
    return render(request, "creators/invites.html", context)


@login_required
@require_POST
def invite_revoke_view(request: HttpRequest, handle: str, invite_id: int):
    """POST /studio/<handle>/students/invites/<id>/revoke/: the link stops working."""
    creator = creator_get_managed(user=request.user, handle=handle)
    invite_revoke(creator=creator, invite_id=invite_id)
    messages.success(request, "Join link revoked; students who joined keep their access.")
    return redirect("creators:invites", handle=creator.handle)


def join(request: HttpRequest, token: str):
    """GET /join/<token>/: what the link opens; POST (signed in): join the studio."""
    invite = invite_by_token(token=token)
    error, status = "", 200
    try:
        if request.method == "POST" and request.user.is_authenticated:
            invite_redeem(token=invite.token, user=request.user)
            messages.success(request, f"Welcome to {invite.creator.company_name}.")
            return redirect(catalog_url(invite.creator.handle))
        invite_check(invite)
    except InviteError as exc:
        error, status = str(exc), exc.status
    context = {"invite": invite, "creator": invite.creator, "error": error}
    return render(request, "creators/join.html", context, status=status)
