"""Shared fixtures. The database is the embedded PostgreSQL started by tests/embedded_pg.py."""

from pathlib import Path

import pytest

from tests.factories import CreatorFactory, MembershipFactory, UserFactory

DATA = Path(__file__).parent / "data"

# The longest modules, longest first (measured with --durations=0, session 5), in
# collection order.
# `make test` keeps this order (--dist loadfile --no-loadscope-reorder), so the longest
# modules start first and no worker is left with a long one at the end. (Periodic tasks are
# declared in code and restored by post_migrate, which a transactional test's flush emits.)
LONGEST_MODULES = (
    "test_qa_set.py",
    "test_input_hardening.py",
    "test_direct_upload_browser.py",
    "test_courses_browser.py",
    "test_chat_browser.py",
    "test_video_browser.py",
    "test_plans_browser.py",
    "test_answerers.py",
    "test_video_views.py",
    "test_transcribe_local.py",
    "test_direct_upload_form.py",
    "test_direct_upload.py",
)


@pytest.fixture(scope="session", autouse=True)
def _end_server_thread_connections(django_db_setup, django_db_blocker):
    """chronos.asgi's fixed thread pools (heartbeats, JSON asks) keep one connection per
    thread by design, and tests drive that app in this process: end those sessions before
    pytest-django drops the test database ("being accessed by other users" otherwise)."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session", autouse=True)
def _full_text_by_default():
    """Tests search with full text only unless they opt in to an embedder: the local model
    (the offline default outside tests) embeds a lecture in tens of seconds on a loaded
    2-core machine. tests/test_qa_set.py and the embedding tests opt in."""
    from django.test import override_settings

    with override_settings(CHRONOS_EMBEDDER="none"):
        yield


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path, storage_backend, request):
    """Each test writes media into its own folder, so DELETE tests can see orphans; tests
    marked `s3` run a second time with the default storage on a fresh moto S3 bucket."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    if storage_backend == "s3":
        from tests.s3 import use_s3

        use_s3(settings, request.getfixturevalue("moto_endpoint"))
    return settings.MEDIA_ROOT


# --- S3 (issue 14): a moto server for the session; `@pytest.mark.s3` tests run on both ---
def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("s3") and "storage_backend" in metafunc.fixturenames:
        metafunc.parametrize("storage_backend", ["local", "s3"], indirect=True)


@pytest.fixture
def storage_backend(request) -> str:
    """ "local" (the default) or "s3" (tests marked `s3` get both)."""
    return getattr(request, "param", "local")


@pytest.fixture(scope="session")
def moto_endpoint():
    """The endpoint URL of a moto S3 server on 127.0.0.1, started once per session."""
    from tests.s3 import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def stored():
    """A callable listing every stored name in the current default storage (disk or S3)."""
    from tests.s3 import stored_names

    return stored_names


@pytest.fixture
def creator(db):
    return CreatorFactory(handle="acme", company_name="Acme Academy")


@pytest.fixture
def other_creator(db):
    return CreatorFactory(handle="globex", company_name="Globex School")


@pytest.fixture
def owner_client(client, creator):
    client.force_login(creator.owner)
    return client


@pytest.fixture
def student(db, creator):
    return MembershipFactory(creator=creator).user


@pytest.fixture
def student_client(client, student):
    client.force_login(student)
    return client


__all__ = ["CreatorFactory", "MembershipFactory", "UserFactory"]
