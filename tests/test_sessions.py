"""The session engine (chronos.sessions): Django's database sessions read by one fixed
statement must behave exactly as Django's own store."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.models import Session
from django.utils import timezone

from chronos.sessions import SessionStore


def test_the_project_uses_this_engine():
    assert settings.SESSION_ENGINE == "chronos.sessions"


def test_reads_what_djangos_store_wrote(db):
    theirs = django_db.SessionStore()
    theirs["answer"] = {"seconds": 42, "cited": ["Lecture I"]}
    theirs.save()
    ours = SessionStore(theirs.session_key)
    assert ours.load() == {"answer": {"seconds": 42, "cited": ["Lecture I"]}}
    assert ours.session_key == theirs.session_key


def test_a_missing_or_expired_row_reads_empty_and_forgets_the_key(db):
    store = SessionStore()
    store["k"] = "v"
    store.save()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    assert expired.load() == {}
    assert expired.session_key is None  # the next save starts a new session
    unknown = SessionStore("no-such-session-key-x")
    assert unknown.load() == {}
    assert unknown.session_key is None


def test_signed_in_until_the_session_expires(student_client):
    assert student_client.get("/api/v1/courses/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = student_client.get("/api/v1/courses/")
    assert response.status_code == 401


def test_the_backends_read_the_whole_user_or_none(db, student):
    from creators.auth import AuthenticationBackend, ModelBackend
    from creators.selectors import user_by_pk

    loaded = user_by_pk(str(student.pk))
    assert loaded == student
    assert (loaded.email, loaded.password, loaded.is_active) == (
        student.email, student.password, True
    )  # fmt: skip
    assert loaded.get_session_auth_hash() == student.get_session_auth_hash()
    assert user_by_pk("not-a-number") is None and user_by_pk(10**12) is None
    for backend in (ModelBackend(), AuthenticationBackend()):
        assert backend.get_user(str(student.pk)) == student
    student.is_active = False
    student.save()
    assert ModelBackend().get_user(student.pk) is None


def test_a_changed_password_signs_the_session_out(student_client, student):
    assert student_client.get("/api/v1/courses/").status_code == 200
    student.set_password("a-new-long-password-42")
    student.save()
    assert student_client.get("/api/v1/courses/").status_code == 401


def test_prepared_statements_are_prepared_once_per_connection(db, settings):
    from django.db import connection

    from chronos.db import prepared_cursor

    def prepared(text):
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [text])
            return cur.fetchone()[0]

    for n in (1, 2, 3):
        with prepared_cursor() as cur:
            cur.execute("SELECT %s::int + 1", [n])
            assert cur.fetchone() == (n + 1,)
    assert prepared("SELECT $1::int + 1") == 1
    settings.DB_PREPARED_STATEMENTS = False
    with prepared_cursor() as cur:
        cur.execute("SELECT %s::int + 2", [1])
        assert cur.fetchone() == (3,)
    assert prepared("SELECT $1::int + 2") == 0
