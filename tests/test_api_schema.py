"""The OpenAPI schema (/api/schema/, issue 13) describes every DRF operation: drf-spectacular
generates it without a warning or error (each view has @extend_schema), every operation is
tagged with its app and documents its success body and the one error shape."""

from __future__ import annotations

import pytest
import requests
import schemathesis
import yaml
from django.core.management import call_command
from django.utils import timezone

from chat.models import ChatSession
from tests.analytics_support import ask
from tests.courses_support import make_course

PASSWORD = "pw-Chronos-123"  # tests.factories.UserFactory's

ERROR_REF = "#/components/schemas/Error"


def test_schema_generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    # Raises SchemaGenerationError on any warning; --validate checks it against OpenAPI 3.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 30
    apps = {"videos", "uploads", "courses", "chat", "billing", "analytics"}
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert set(op.get("tags", [])) & apps, where
        responses = op["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, where
        for code in success:
            if code != "204":
                assert "content" in responses[code], where
        assert responses["404"]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


@pytest.mark.django_db(transaction=True)
def test_real_payloads_with_data_conform_to_the_schema(live_server, creator):
    """Schemathesis' generated requests mostly meet an empty studio; here the described
    views answer with real rows (a course with lessons, a chat session with a cited answer,
    usage, analytics) and each body must match what /api/schema/ says."""
    course, lessons = make_course(creator)
    ask(
        creator=creator,
        user=creator.owner,
        text="What is wax?",
        at=timezone.now(),
        cite=(lessons[0].video, 10.0),
        course=course,
    )
    session = ChatSession.objects.get(creator=creator)
    video_id = lessons[0].video_id
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    http = requests.Session()
    http.auth = (creator.owner.email, PASSWORD)
    calls = [
        ("/api/v1/courses/", "/api/v1/courses/", 200),
        ("/api/v1/courses/{id}/", f"/api/v1/courses/{course.pk}/", 200),
        ("/api/v1/courses/{id}/outline/", f"/api/v1/courses/{course.pk}/outline/", 200),
        ("/api/v1/courses/{id}/", "/api/v1/courses/999999/", 404),
        ("/api/v1/chat/sessions", "/api/v1/chat/sessions", 200),
        ("/api/v1/chat/sessions/{session_id}", f"/api/v1/chat/sessions/{session.pk}", 200),
        (
            "/api/v1/chat/sessions/{session_id}/messages",
            f"/api/v1/chat/sessions/{session.pk}/messages",
            200,
        ),
        ("/api/v1/usage/", "/api/v1/usage/", 200),
        ("/api/v1/analytics/overview/", "/api/v1/analytics/overview/?range=30d", 200),
        (
            "/api/v1/analytics/videos/{video_id}/engagement/",
            f"/api/v1/analytics/videos/{video_id}/engagement/",
            200,
        ),
    ]
    for template, url, expected in calls:
        response = http.get(f"{live_server.url}{url}", timeout=30)
        assert response.status_code == expected, (url, response.text[:500])
        schema[template]["GET"].validate_response(response)
    messages = http.get(f"{live_server.url}/api/v1/chat/sessions/{session.pk}/messages").json()
    assert [m["role"] for m in messages["results"]] == ["user", "assistant"]
    assert messages["results"][1]["citations"] and messages["results"][0]["content_html"] is None

    # The plain Django views, described by their documentation twins (chronos.schema).
    body = {"message": "What is wax?", "creator": "acme"}
    answer = http.post(f"{live_server.url}/api/v1/chat", json=body, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    schema["/api/v1/chat"]["POST"].validate_response(answer)
    assert set(answer.json()) == {
        "session_id", "message_id", "title", "answer", "answer_html", "citations", "covered",
        "nearest", "usage", "allowance",
    }  # fmt: skip
    streamed = http.post(f"{live_server.url}/api/v1/chat", json={**body, "stream": True})
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    assert b"event: done" in streamed.content
    schema["/api/v1/chat"]["POST"].validate_response(streamed)
    refused = http.post(f"{live_server.url}/api/v1/chat", json={"creator": "acme"})
    assert refused.status_code == 400 and refused.json()["fields"]["message"]
    schema["/api/v1/chat"]["POST"].validate_response(refused)
    template = "/api/v1/chat/sessions/{session_id}/export"
    for fmt, media in (("md", "text/markdown"), ("json", "application/json")):
        url = f"{live_server.url}/api/v1/chat/sessions/{session.pk}/export?format={fmt}"
        download = http.get(url, timeout=30)
        assert download.status_code == 200 and media in download.headers["Content-Type"]
        schema[template]["GET"].validate_response(download)
    csv = http.get(f"{live_server.url}/api/v1/analytics/export/?report=questions", timeout=30)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").startswith("asked_at,"), csv.text[:300]
    assert "attachment" in csv.headers["Content-Disposition"]
    schema["/api/v1/analytics/export/"]["GET"].validate_response(csv)
    wrong = http.get(f"{live_server.url}/api/v1/analytics/export/?report=nope", timeout=30)
    assert wrong.status_code == 400 and wrong.json()["fields"]["report"]
    schema["/api/v1/analytics/export/"]["GET"].validate_response(wrong)
