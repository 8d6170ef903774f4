"""Bad input never costs a 500: unstorable text and hostile JSON get a 400 naming the field.

The property test walks the URL resolver like tests/test_tenant_isolation.py (so new routes
are covered automatically) and sends Hypothesis-generated hostile strings — NUL, unpaired
surrogates, control and bidi characters, huge and odd text — to every text field the route
could read: the fields of the forms its page renders plus the names our views and the API
read (query string, form body and JSON body), as its own tenant's owner and student.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chronos.input import BadInput, json_loads_bounded, unstorable
from creators.models import CreatorMember
from tests import test_tenant_isolation as isolation
from tests.factories import UserFactory
from tests.test_tenant_isolation import PARAM, iter_routes

world = isolation.world  # the two-tenant fixture

SKIP_PREFIXES = ("admin/", "static/", "__", "webhooks/", "accounts/logout")
# Names our views, forms and serializers read; every one gets a hostile string.
KNOWN_FIELDS = [
    "q", "message", "title", "description", "email", "role", "next", "format", "creator",
    "handle", "name", "company_name", "question", "content", "text", "current", "page",
    "session_id", "course_id", "video_id", "video_ids", "position", "stream", "cancel",
    "login", "password", "password1", "password2", "captions", "language", "part",
]  # fmt: skip
NASTY = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202e\u200b\ufeff",
    "'; DROP TABLE videos; --",
    "%s%n{0}{}${{x}}",
    "<script>alert(1)</script>",
    "\\",
    "9" * 5000,
    "🎥" * 300,
    "-1",
    "1e309",
    "",
    " ",
]
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(exclude_categories=[]), max_size=40),
    st.text(alphabet=st.sampled_from(["\x00", "\ud800", "a", " ", "\n", "é"]), max_size=12),
)
FORM_FIELD = re.compile(rb"<(?:input|textarea|select)\b[^>]*\bname=\"([^\"]+)\"")


def _form_safe(text: str) -> str:
    """The test client encodes query/form text as UTF-8: surrogates go in JSON bodies only."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def _own_urls(route: str, world) -> list[str]:
    """`route` with the acting tenant's (A's) handle, ids and slugs filled in."""
    if "(?" in route or "^" in route:
        return []
    a = world["a"]
    video, course, module, lesson = world["a_objs"]
    session = world["sessions"].get(a.handle)
    by_name = {
        "member_id": CreatorMember.objects.filter(creator=a).values_list("pk", flat=True).first(),
        "session_id": session.pk if session else None,
        "course_id": course.pk,
        "module_id": module.pk,
        "lesson_id": lesson.pk,
    }
    url = route
    for m in PARAM.finditer(route):
        conv, name = m.group("conv") or "str", m.group("name")
        if name in ("handle", "creator", "creator_handle"):
            value = a.handle
        elif conv == "int":
            value = by_name.get(name) or video.pk
        elif conv == "uuid":
            value = "00000000-0000-0000-0000-000000000000"
        else:
            value = course.slug
        url = url.replace(m.group(0), str(value))
    return ["/" + url]


def _fields_for(client: Client, url: str) -> list[str]:
    response = client.get(url)
    body = b"" if getattr(response, "streaming", False) else response.content
    found = [n.decode() for n in FORM_FIELD.findall(body)]
    return sorted({*KNOWN_FIELDS, *found} - {"csrfmiddlewaretoken"})


def _status(response) -> int:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # a failure inside a stream must surface too
    return response.status_code


def _probe(client: Client, user, url: str, fields: list[str], failures: list[str]):
    """A Hypothesis test sending hostile values for `fields` to `url` four ways."""

    @hsettings(
        max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(values=st.fixed_dictionaries({f: hostile_text for f in fields}))
    def probe(values):
        client.force_login(user)
        form = {k: _form_safe(v) for k, v in values.items()}
        body = json.dumps(values)
        sends = {
            "GET": lambda: client.get(url, form),
            "POST form": lambda: client.post(url, form),
            "POST json": lambda: client.post(url, body, content_type="application/json"),
            "PATCH json": lambda: client.patch(url, body, content_type="application/json"),
        }
        for method, send in sends.items():
            status = _status(send())
            if status >= 500:
                bad = sorted(k for k, v in values.items() if unstorable(v))
                failures.append(f"{method} {url} -> {status} (unstorable in {bad[:4]})")

    return probe


@pytest.mark.parametrize("role", ["owner", "student"])
def test_hostile_strings_to_every_text_field_never_cost_a_500(world, role, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    user = world["users"][role]
    failures: list[str] = []
    routes = [r for r, _ in iter_routes() if not r.startswith(SKIP_PREFIXES)]
    assert len(routes) > 20
    for route in routes:
        for url in _own_urls(route, world):
            client.force_login(user)
            _probe(client, user, url, _fields_for(client, url), failures)()
    assert not failures, "\n".join(sorted(set(failures)))


# --- the reported 500s, one by one ------------------------------------------------------


def test_nul_in_chat_message_is_a_400_naming_the_field(student_client, creator):
    for stream in (False, True):
        response = student_client.post(
            "/api/v1/chat",
            {"message": "what is a candle\x00", "creator": creator.handle, "stream": stream},
            content_type="application/json",
        )
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["code"] == "invalid_input"
        assert "message" in body["fields"]
        assert "cannot be stored" in body["error"]


def test_hundred_thousand_deep_json_is_a_400(student_client, creator):
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"message": "hi", "creator": "acme", "x": ' + deep + "}"
    response = student_client.post("/api/v1/chat", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["error"]
    # Through DRF's parser too (a DRF route with a JSON body).
    response = student_client.patch(
        "/api/v1/chat/sessions/1", deep, content_type="application/json"
    )
    assert response.status_code == 400


def test_deep_json_text_inside_a_string_is_not_nesting():
    data = json_loads_bounded('{"q": "' + "[" * 5000 + '"}', max_depth=4)
    assert data == {"q": "[" * 5000}
    with pytest.raises(BadInput):
        json_loads_bounded("[" * 5 + "]" * 5, max_depth=4)


def test_lone_surrogate_and_nan_in_json_are_refused():
    with pytest.raises(BadInput) as err:
        json_loads_bounded('{"items": [{"title": "\\ud800"}]}')
    assert err.value.field == "items[0].title"
    with pytest.raises(BadInput):
        json_loads_bounded('{"position": NaN}')
    with pytest.raises(BadInput):
        json_loads_bounded('{"n": ' + "9" * 10_000 + "}")  # past Python's int digit limit


def test_nul_in_search_and_session_title_is_a_400(student_client, creator):
    response = student_client.get(f"/learn/{creator.handle}/chat/sessions/", {"q": "can\x00dle"})
    assert response.status_code == 400
    assert b"<strong>q</strong>" in response.content
    assert b"cannot be stored" in response.content


def test_nul_in_team_email_is_a_400_and_nothing_added(owner_client, creator):
    before = CreatorMember.objects.filter(creator=creator).count()
    response = owner_client.post(
        f"/studio/{creator.handle}/settings/team/add/", {"email": "a\x00@example.com"}
    )
    assert response.status_code == 400
    assert b"<strong>email</strong>" in response.content
    assert CreatorMember.objects.filter(creator=creator).count() == before


def test_nul_in_creator_query_is_refused_not_a_500(client, db):
    client.force_login(UserFactory())
    response = client.get("/api/v1/videos/", {"creator": "ac\x00me"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"creator": [response.json()["error"]]}
