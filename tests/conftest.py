"""Shared fixtures. The database is the embedded PostgreSQL started by tests/embedded_pg.py."""

from pathlib import Path

import pytest

from tests.factories import CreatorFactory, MembershipFactory, UserFactory

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test writes media into its own folder, so DELETE tests can see orphans."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return settings.MEDIA_ROOT


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
