"""Tenancy: a student of creator A never receives creator B's material, by any route."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chat.retrieval import retrieve, scope_resolve
from chat.services import chat_ask
from tests.chat_library import build_rows, library_fixture
from tests.factories import CreatorFactory, MembershipFactory

B_LECTURE = [
    "Today we study the zeppelin hangar acoustics of the Quibbleton observatory.",
    "The marmalade resonance in the zeppelin hangar was first measured by Professor Quibble.",
    "Quibbleton engineers dampened the marmalade resonance with woollen baffles.",
    "A zeppelin hangar echoes for eleven seconds before the baffles are installed.",
    "Professor Quibble wrote that marmalade resonance depends on the hangar's curvature.",
    "Woollen baffles cut the echo of the zeppelin hangar to under two seconds.",
]
B_QUESTION = (
    "How did the Quibbleton engineers dampen the marmalade resonance in the zeppelin hangar?"
)


lib = library_fixture("faraday-isolation")


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.CHRONOS_ANSWERER = "extractive"
    settings.CHRONOS_EMBEDDER = "none"


@pytest.fixture
def creator_b(db):
    b = CreatorFactory(handle="quibble", company_name="Quibbleton")
    cue_list = [
        {"index": i, "start": i * 7.0, "end": i * 7.0 + 6.0, "text": t}
        for i, t in enumerate(B_LECTURE)
    ]
    video = build_rows(b, "quibble", title_override="Hangar acoustics", cue_list=cue_list)
    # B's own student gets B's answer: the material is findable.
    b_student = MembershipFactory(creator=b).user
    answer = chat_ask(user=b_student, creator=b, message=B_QUESTION)
    assert answer.covered and answer.citations[0]["video_id"] == video.pk
    return b, video


def test_student_of_a_never_gets_b_chunks(db, lib, creator_b):
    _, b_video = creator_b
    result = chat_ask(user=lib.student, creator=lib.creator, message=B_QUESTION)
    assert result.covered is False and result.citations == []
    # Below the answer layer too: A's retrieval never returns a chunk of B.
    scope = scope_resolve(creator=lib.creator)
    passages = retrieve(creator=lib.creator, scope=scope, question=B_QUESTION).passages
    assert all(p.video_id != b_video.pk for p in passages)
    assert b_video.pk not in scope.video_ids


def test_b_video_ids_cannot_be_smuggled_into_a_scope(db, lib, creator_b):
    _, b_video = creator_b
    client = Client()
    client.force_login(lib.student)
    response = client.post(
        "/api/v1/chat",
        data=json.dumps(
            {"message": B_QUESTION, "creator": lib.creator.handle, "video_ids": [b_video.pk]}
        ),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Quibble" not in response.content.decode()


def test_student_of_a_cannot_address_creator_b(db, lib, creator_b):
    b, _ = creator_b
    client = Client()
    client.force_login(lib.student)
    response = client.post(
        "/api/v1/chat",
        data=json.dumps({"message": B_QUESTION, "creator": b.handle}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert "marmalade" not in response.content.decode()
    assert client.get("/api/v1/chat/sessions", {"creator": b.handle}).status_code == 404


def test_sessions_are_private_to_their_user(db, lib):
    other = MembershipFactory(creator=lib.creator).user
    mine = chat_ask(user=lib.student, creator=lib.creator, message="Why do flames rise upwards?")
    client = Client()
    client.force_login(other)
    listing = client.get("/api/v1/chat/sessions", {"creator": lib.creator.handle}).json()
    assert listing["results"] == []
    assert client.get(f"/api/v1/chat/sessions/{mine.session_id}/messages").status_code == 404
    found = client.get("/api/v1/chat/sessions", {"q": "flames"}).json()["results"]
    assert found == []


def test_creator_access_agrees_with_the_access_querysets(db):
    """creators.selectors.creator_access (one raw statement on every question) decides as
    creators_managed_by / creators_learnable_by do, for every kind of user."""
    from datetime import timedelta

    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from creators.models import CreatorMember, Membership
    from creators.selectors import (
        creator_access,
        creator_by_handle_access,
        creators_learnable_by,
        creators_managed_by,
    )
    from tests.factories import UserFactory

    creator, other = CreatorFactory(), CreatorFactory()
    inactive = CreatorFactory(is_active=False)
    past = timezone.now() - timedelta(days=1)
    users = {
        "owner": creator.owner,
        "staff": UserFactory(is_staff=True),
        "team": UserFactory(),
        "member": MembershipFactory(creator=creator).user,
        "canceled": MembershipFactory(creator=creator, status=Membership.Status.CANCELED).user,
        "lapsed": MembershipFactory(creator=creator, valid_until=past).user,
        "member elsewhere": MembershipFactory(creator=other).user,
        "inactive creator's member": MembershipFactory(creator=inactive).user,
        "stranger": UserFactory(),
    }
    CreatorMember.objects.create(creator=creator, user=users["team"])
    MembershipFactory(creator=inactive, user=users["team"])
    for name, user in users.items():
        for target in (creator, other, inactive):
            access = creator_access(user=user, creator=target)
            manages = creators_managed_by(user=user).filter(pk=target.pk).exists()
            learns = creators_learnable_by(user=user).filter(pk=target.pk).exists()
            assert (access.manages, access.learns) == (manages, learns), (name, target.handle)
            # The API's read of the creator by handle (creator row and access in one).
            row, by_handle = creator_by_handle_access(user=user, handle=target.handle)
            assert by_handle == access and row == target, (name, target.handle)
            assert (row.handle, row.tier, row.owner_id) == (target.handle, target.tier,
                                                            target.owner_id)  # fmt: skip
    assert users["member"] and creator_access(user=users["member"], creator=creator).learns
    anonymous = creator_access(user=AnonymousUser(), creator=creator)
    assert (anonymous.manages, anonymous.learns) == (False, False)
    row, anonymous = creator_by_handle_access(user=AnonymousUser(), handle=creator.handle)
    assert row == creator and (anonymous.manages, anonymous.learns) == (False, False)
    assert creator_by_handle_access(user=users["member"], handle="no-such-handle")[0] is None
