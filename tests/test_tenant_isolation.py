"""Tenant isolation across EVERY route: people of creator A never get creator B's data.

The URL resolver is walked recursively, so routes added later are covered automatically.
Each route is requested (GET, POST, PATCH, DELETE) as A's owner, A's team editor and A's
student, with B's handle and B's object ids substituted into the path (and ?creator=<B>
in the query and body, which the REST API uses). Every response must be free of B's text;
a response to a URL naming B's objects must be a 404/403/401/redirect (or 405 for a method
the route does not take). Afterwards B's rows must be untouched. Finally chat retrieval,
asked as A with A's scope, must never return B's chunks.
"""

from __future__ import annotations

import json
import re

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from billing.models import Payment, UsageLedgerEntry
from courses.models import Course, Lesson, Module
from creators.models import Creator, CreatorMember, Membership
from tests.factories import CreatorFactory, MembershipFactory, UserFactory
from videos.models import TranscriptSegment, Video
from videos.pipeline import chunks_replace

SECRET = "GLOBEXSECRET"  # in every text of B's; must never appear in a response to A
SECRET_BYTES = SECRET.encode()
ALLOWED = {301, 302, 303, 307, 308, 401, 403, 404, 405}
METHODS = ["get", "post", "patch", "delete"]
SKIP_PREFIXES = ("admin/", "accounts/", "static/", "__")
# Which model an int path parameter names, from the literal segment before it.
SEGMENT_MODELS = {
    "videos": "videos.Video",
    "video": "videos.Video",
    "courses": "courses.Course",
    "course": "courses.Course",
    "modules": "courses.Module",
    "lessons": "courses.Lesson",
    "lesson": "courses.Lesson",
    "chat": "chat.ChatSession",
    "sessions": "chat.ChatSession",
    "messages": "chat.ChatMessage",
    "team": "creators.CreatorMember",
    "members": "creators.CreatorMember",
    "payments": "billing.Payment",
    "chunks": "videos.VideoChunk",
    "segments": "videos.TranscriptSegment",
    "notes": "courses.LessonNote",
    "uploads": "videos.DirectUpload",
}
KWARG_MODELS = {
    "video_id": "videos.Video",
    "course_id": "courses.Course",
    "module_id": "courses.Module",
    "lesson_id": "courses.Lesson",
    "session_id": "chat.ChatSession",
    "message_id": "chat.ChatMessage",
    "member_id": "creators.CreatorMember",
    "membership_id": "creators.Membership",
    "payment_id": "billing.Payment",
    "invite_id": "creators.Invite",
    "note_id": "courses.LessonNote",
}
PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def iter_routes(resolver=None, prefix=""):
    """(route string, URLPattern) for every leaf pattern, recursively."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from iter_routes(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def tenant_models() -> list[type[models.Model]]:
    """Every model with a `creator` foreign key (tenant-owned rows), from all apps."""
    found = []
    for model in apps.get_models():
        field = next((f for f in model._meta.fields if f.name == "creator"), None)
        if field is not None and field.is_relation and field.related_model is Creator:
            found.append(model)
    return found


@pytest.fixture
def world(db):
    """Two tenants with content; B's texts all contain SECRET."""
    a = CreatorFactory(handle="acme", company_name="Acme Academy")
    b = CreatorFactory(handle="globex", company_name=f"{SECRET} School")
    a_editor, b_editor = UserFactory(), UserFactory(display_name=f"{SECRET} editor")
    CreatorMember.objects.create(creator=a, user=a_editor, role="editor")
    b_member = CreatorMember.objects.create(creator=b, user=b_editor, role="admin")
    a_student = MembershipFactory(creator=a).user
    b_student = MembershipFactory(creator=b, whop_membership_id="mem_B").user

    def library(creator, text):
        video = Video.objects.create(
            creator=creator, title=f"{text} lecture", description=text, status="completed"
        )
        sentences = [
            f"{text} candle flames burn with a bright yellow light.",
            f"The {text} wick draws melted wax upward by capillary action.",
            f"Air currents shape the {text} flame into a tapering cone.",
        ]
        segments = [
            TranscriptSegment.objects.create(
                creator=creator, video=video, index=i, start=i * 5.0, end=i * 5.0 + 5, text=sentence
            )
            for i, sentence in enumerate(sentences)
        ]
        # The pipeline's own writer: chunks, their 3-segment windows, postings by trigger.
        chunks_replace(video=video, segments=segments)
        course = Course.objects.create(
            creator=creator,
            title=f"{text} course",
            slug=f"{creator.handle}-course",
            description=text,
            status="published",
        )
        module = Module.objects.create(creator=creator, course=course, title=f"{text} module")
        lesson = Lesson.objects.create(
            creator=creator, module=module, video=video, title=f"{text} lesson"
        )
        return video, course, module, lesson

    a_objs = library(a, "acme")
    b_objs = library(b, SECRET)
    Payment.objects.create(
        creator=b,
        whop_payment_id="pay_B",
        status="succeeded",
        occurred_at=b.created_at,
        failure_message=SECRET,
    )
    UsageLedgerEntry.objects.create(
        creator=b, operation="chat", provider="x", model="m", units=1, unit="tokens", subject=SECRET
    )
    sessions = {}
    try:
        from chat.models import ChatMessage, ChatSession

        for creator, student, text in ((a, a_student, "acme"), (b, b_student, SECRET)):
            session = ChatSession.objects.create(
                creator=creator, user=student, title=f"{text} chat"
            )
            ChatMessage.objects.create(
                creator=creator, session=session, role="user", content=f"What is {text}?"
            )
            sessions[creator.handle] = session
    except (ImportError, LookupError):  # chat not built yet
        pass
    return {
        "a": a,
        "b": b,
        "users": {"owner": a.owner, "editor": a_editor, "student": a_student},
        "b_member": b_member,
        "a_objs": a_objs,
        "b_objs": b_objs,
        "b_student": b_student,
        "sessions": sessions,
    }


def _ids(world) -> dict[str, list[int]]:
    """B's ids per model label (excluding any id that also names an A row in that table),
    plus "*": B ids of every tenant table that name no A row in any tenant table."""
    a, b = world["a"], world["b"]
    per_model: dict[str, list[int]] = {}
    a_any: set[int] = set()
    b_any: set[int] = set()
    for model in tenant_models():
        if isinstance(model._meta.pk, models.CompositePrimaryKey):
            continue  # no URL names a composite key (videos.ChunkPosting: derived index rows)
        a_ids = set(model._default_manager.filter(creator=a).values_list("pk", flat=True))
        b_ids = set(model._default_manager.filter(creator=b).values_list("pk", flat=True))
        a_any |= a_ids
        b_any |= b_ids
        per_model[model._meta.label] = sorted(b_ids - a_ids)[:2]
    per_model["creators.Membership"] = list(
        Membership.objects.filter(creator=b).values_list("pk", flat=True)[:1]
    )
    per_model["*"] = sorted(b_any - a_any)[:3]
    return per_model


def _int_candidates(route: str, name: str, ids: dict[str, list[int]]) -> list[int]:
    label = KWARG_MODELS.get(name)
    if label is None and name in ("pk", "id"):
        before = route.split(f":{name}>")[0].rstrip("/").rsplit("/", 2)
        segment = before[-2] if len(before) >= 2 and before[-1].startswith("<") else before[-1]
        label = SEGMENT_MODELS.get(segment.split("<")[0].strip("/"))
    return ids.get(label or "*") or ids["*"]


def build_urls(route: str, world, ids) -> list[tuple[str, bool]]:
    """Concrete URLs for `route` naming B's objects: [(url, names_b)]."""
    params = list(PARAM.finditer(route))
    if "(?" in route or "^" in route:
        return []  # regex routes (third-party) are skipped: none of ours use regexes
    if not params:
        return [("/" + route, False)]
    variants = [dict()]
    for m in params:
        conv, name = m.group("conv") or "str", m.group("name")
        if conv == "int":
            values = [str(v) for v in _int_candidates(route, name, ids)]
        elif name in ("handle", "creator", "creator_handle"):
            values = [world["b"].handle]
        elif conv == "uuid":
            values = ["00000000-0000-0000-0000-000000000000"]
        else:  # other slugs/strings: B's course slug
            values = [world["b_objs"][1].slug]
        variants = [{**v, m.group(0): val} for v in variants for val in values]
    urls = []
    for v in variants:
        url = route
        for token, value in v.items():
            url = url.replace(token, value)
        urls.append(("/" + url, True))
    return urls


def read(response) -> bytes:
    if getattr(response, "streaming", False):
        body = b""
        for chunk in response.streaming_content:
            body += chunk if isinstance(chunk, bytes) else str(chunk).encode()
            if len(body) > 500_000:
                break
        return body
    return response.content


def request(client, method: str, url: str, world) -> tuple[int, bytes]:
    b = world["b"]
    video, course, _module, lesson = world["b_objs"]
    body = {
        "creator": b.handle,
        "video": video.pk,
        "video_id": video.pk,
        "video_ids": [video.pk],
        "course": course.pk,
        "course_id": course.pk,
        "lesson": lesson.pk,
        "question": "What do the candle flames do?",
        "message": "What do the candle flames do?",
        "title": "renamed",
        "email": world["b_student"].email,
    }
    session = world["sessions"].get(b.handle)
    if session is not None:
        body["session"] = body["session_id"] = session.pk
    query = f"?creator={b.handle}"
    if method == "get":
        response = client.get(url + query)
    elif method == "post" and not url.startswith("/api/"):
        response = client.post(
            url + query, data={k: v for k, v in body.items() if k != "video_ids"}
        )
    else:
        response = getattr(client, method)(
            url + query, data=json.dumps(body), content_type="application/json"
        )
    return response.status_code, read(response)


def snapshot(world) -> dict:
    b = world["b"]
    state = {"creator": Creator.objects.filter(pk=b.pk).values().first()}
    for model in tenant_models():
        rows = model._default_manager.filter(creator=b).order_by("pk").values()
        state[model._meta.label] = [
            {k: v for k, v in r.items() if k not in ("updated_at", "search_vector", "embedding")}
            for r in rows
        ]
    state["members"] = list(CreatorMember.objects.filter(creator=b).values("pk", "user_id", "role"))
    return state


@pytest.mark.parametrize("role", ["owner", "editor", "student"])
def test_every_route_hides_other_tenants(world, role, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)  # a 500 is reported, not raised
    client.force_login(world["users"][role])
    ids = _ids(world)
    before = snapshot(world)
    checked, named_b, failures = 0, 0, []
    for route, _pattern in iter_routes():
        if route.startswith(SKIP_PREFIXES):
            continue
        for url, names_b in build_urls(route, world, ids):
            for method in METHODS:
                status, body = request(client, method, url, world)
                checked += 1
                named_b += names_b
                if SECRET_BYTES in body:
                    failures.append(f"{method.upper()} {url} -> {status} LEAKS B's data")
                elif names_b and status not in ALLOWED:
                    failures.append(
                        f"{method.upper()} {url} -> {status} (expected 404/403/redirect)"
                    )
    print(f"{role}: {checked} requests, {named_b} naming B")
    assert not failures, "\n".join(failures)
    assert snapshot(world) == before, "a request as A changed B's rows"
    assert named_b > 20, "the walk found too few routes naming B's objects"
    assert checked > 40


def test_walk_covers_known_tenant_routes(world):
    """Guards the walker itself: known routes are found and get B's values substituted."""
    ids = _ids(world)
    urls = {u for route, _ in iter_routes() for u, _n in build_urls(route, world, ids)}
    assert "/studio/globex/settings/" in urls
    assert any(u.startswith("/studio/globex/videos/") for u in urls)
    assert any(u.startswith("/learn/globex/") for u in urls)
    video = world["b_objs"][0]
    assert any(u.startswith(f"/api/v1/videos/{video.pk}/") for u in urls)


def test_same_routes_work_for_own_tenant(client, world):
    """The 404s above come from tenancy, not from broken URLs: A's own pages answer 200."""
    client.force_login(world["a"].owner)
    assert client.get("/studio/acme/settings/").status_code == 200
    assert client.get("/studio/globex/settings/").status_code == 404
    video = world["a_objs"][0]
    assert client.get(f"/studio/acme/videos/{video.pk}/").status_code == 200
    b_video = world["b_objs"][0]
    assert client.get(f"/studio/acme/videos/{b_video.pk}/").status_code == 404
    assert client.get(f"/studio/globex/videos/{b_video.pk}/").status_code == 404


def test_chat_retrieval_never_returns_other_tenants_chunks(world):
    from chat import retrieval
    from chronos.errors import DomainError

    a, b = world["a"], world["b"]
    b_video = world["b_objs"][0]
    question = f"{SECRET} candle flames wick capillary"
    scope = retrieval.scope_resolve(creator=a)
    assert b_video.pk not in scope.video_ids
    result = retrieval.retrieve(creator=a, scope=scope, question=question)
    assert all(p.video_id != b_video.pk and SECRET not in p.quote for p in result.passages)
    # Asking A's scope for B's video or course is refused outright.
    with pytest.raises(DomainError):
        retrieval.scope_resolve(creator=a, video_ids=[b_video.pk])
    with pytest.raises(DomainError):
        retrieval.scope_resolve(creator=a, course_id=world["b_objs"][1].pk)
    # Sanity: the same question inside B's own scope does find B's chunk.
    own = retrieval.retrieve(creator=b, scope=retrieval.scope_resolve(creator=b), question=question)
    assert any(p.video_id == b_video.pk for p in own.passages)


def test_studio_settings_shows_plan_usage_team_and_billing(client, world):
    a = world["a"]
    UsageLedgerEntry.objects.create(
        creator=a,
        operation="transcription",
        provider="openai",
        model="whisper-1",
        units=600,
        unit="seconds",
        usd="0.060000",
    )
    client.force_login(a.owner)
    page = client.get("/studio/acme/settings/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Free plan" in text and "Billing OK" in text
    assert "$0.0600" in text  # usage this month, Decimal USD
    assert SECRET not in text


def test_team_changes_need_owner_or_admin(client, world):
    a = world["a"]
    newcomer = UserFactory(email="newcomer@example.com")
    editor = world["users"]["editor"]
    client.force_login(editor)  # an editor may view but not change the team
    assert client.get("/studio/acme/settings/").status_code == 200
    client.post("/studio/acme/settings/team/add/", {"email": newcomer.email, "role": "editor"})
    assert not CreatorMember.objects.filter(creator=a, user=newcomer).exists()

    client.force_login(a.owner)
    response = client.post(
        "/studio/acme/settings/team/add/", {"email": newcomer.email, "role": "admin"}
    )
    assert response.status_code == 302
    member = CreatorMember.objects.get(creator=a, user=newcomer)
    assert member.role == "admin"
    # B's team member id through A's studio: 404, B's team unchanged.
    b_member = world["b_member"]
    remove_b = f"/studio/acme/settings/team/{b_member.pk}/remove/"
    assert client.post(remove_b).status_code == 404
    assert CreatorMember.objects.filter(pk=b_member.pk).exists()
    client.post(f"/studio/acme/settings/team/{member.pk}/remove/")
    assert not CreatorMember.objects.filter(pk=member.pk).exists()
    # Unknown email: a message, nothing added.
    page = client.post(
        "/studio/acme/settings/team/add/", {"email": "nobody@example.com"}, follow=True
    )
    assert b"No Chronos account uses that email" in page.content
