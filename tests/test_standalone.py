"""Chronos without Whop: a user creates a studio, invites students by e-mail or join link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from creators.models import Creator, Invite, Membership
from creators.selectors import creators_learnable_by
from creators.services.invites import MAX_OWNED_STUDIOS, invite_create
from tests.factories import CreatorFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_whop(settings):
    settings.WHOP_CLIENT_ID = settings.WHOP_APP_ID = ""


def test_signed_in_user_creates_a_studio_and_lands_in_it(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/studio/new/").status_code == 200
    response = client.post("/studio/new/", {"company_name": "  Volta   Labs "})
    assert response.status_code == 302
    creator = Creator.objects.get(owner=user)
    assert creator.company_name == "Volta Labs" and creator.handle == "volta-labs"
    assert creator.whop_company_id is None and creator.tier == "free"
    assert response["Location"] == "/studio/volta-labs/videos/"
    assert client.get(response["Location"]).status_code == 200


def test_studio_needs_a_name_and_has_a_limit(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/studio/new/", {"company_name": "   "})
    assert response.status_code == 400 and b"Give your studio a name" in response.content
    for n in range(MAX_OWNED_STUDIOS):
        CreatorFactory(owner=user, handle=f"mine-{n}")
    response = client.post("/studio/new/", {"company_name": "One more"})
    assert response.status_code == 400
    assert Creator.objects.filter(owner=user).count() == MAX_OWNED_STUDIOS


def test_studio_new_is_for_signed_in_users(client):
    assert client.get("/studio/new/").status_code == 302
    assert client.post("/studio/new/", {"company_name": "X"}).status_code == 302
    assert not Creator.objects.exists()


def test_studio_named_new_does_not_shadow_the_route(client):
    client.force_login(UserFactory())
    client.post("/studio/new/", {"company_name": "New"})
    assert Creator.objects.get().handle != "new"


def test_join_link_grants_an_invite_membership(client, creator):
    owner_client = client
    owner_client.force_login(creator.owner)
    response = owner_client.post(
        f"/studio/{creator.handle}/students/", {"expires_in_days": "7", "max_uses": "2"}
    )
    assert response.status_code == 302
    invite = Invite.objects.get(creator=creator)
    assert invite.max_uses == 2 and invite.expires_at > timezone.now() + timedelta(days=6)
    page = owner_client.get(f"/studio/{creator.handle}/students/")
    assert f"/join/{invite.token}/".encode() in page.content
    student = UserFactory()
    client.force_login(student)
    assert client.get(f"/join/{invite.token}/").status_code == 200
    response = client.post(f"/join/{invite.token}/")
    assert response.status_code == 302 and response["Location"].startswith("/learn/acme/")
    membership = Membership.objects.get(creator=creator, user=student)
    assert membership.source == "invite" and membership.status == "active"
    assert creator in creators_learnable_by(user=student)
    invite.refresh_from_db()
    assert invite.uses == 1
    client.post(f"/join/{invite.token}/")  # joining twice uses nothing up
    invite.refresh_from_db()
    assert invite.uses == 1


def test_signed_out_visitor_is_asked_to_sign_in_first(client, creator):
    invite = invite_create(creator=creator, actor=creator.owner)
    page = client.get(f"/join/{invite.token}/")
    assert page.status_code == 200 and b"Create an account" in page.content
    assert client.post(f"/join/{invite.token}/").status_code == 200
    assert not Membership.objects.filter(creator=creator).exists()


@pytest.mark.parametrize("state", ["expired", "exhausted", "revoked"])
def test_dead_links_grant_nothing(client, creator, state):
    invite = invite_create(creator=creator, actor=creator.owner, max_uses=1, expires_in_days=3)
    if state == "expired":
        Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(1))
    elif state == "exhausted":
        first = UserFactory()
        client.force_login(first)
        client.post(f"/join/{invite.token}/")
        assert Membership.objects.filter(user=first).exists()
    else:
        owner = client
        owner.force_login(creator.owner)
        response = owner.post(f"/studio/acme/students/invites/{invite.pk}/revoke/")
        assert response.status_code == 302
    late = UserFactory()
    client.force_login(late)
    assert client.get(f"/join/{invite.token}/").status_code == 410
    response = client.post(f"/join/{invite.token}/")
    assert response.status_code == 410
    assert not Membership.objects.filter(user=late).exists()


def test_unknown_token_is_404(client):
    client.force_login(UserFactory())
    assert client.get("/join/nope/").status_code == 404
    assert client.post("/join/nope/").status_code == 404


def test_another_tenants_invite_cannot_be_revoked_or_listed(client, creator, other_creator):
    theirs = invite_create(creator=other_creator, actor=other_creator.owner)
    client.force_login(creator.owner)
    url = f"/studio/acme/students/invites/{theirs.pk}/revoke/"
    assert client.post(url).status_code == 404
    assert client.post(f"/studio/globex/students/invites/{theirs.pk}/revoke/").status_code == 404
    assert client.get("/studio/globex/students/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_students_cannot_manage_invites(client, creator, student):
    client.force_login(student)
    assert client.get("/studio/acme/students/").status_code == 404
    assert client.post("/studio/acme/students/", {"max_uses": "9"}).status_code == 404
    assert not Invite.objects.exists()


def test_email_invite_is_sent_and_bound_to_that_address(client, creator):
    client.force_login(creator.owner)
    client.post("/studio/acme/students/", {"email": "ada@example.com", "expires_in_days": "14"})
    invite = Invite.objects.get()
    assert invite.email == "ada@example.com" and invite.max_uses == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert f"/join/{invite.token}/" in mail.outbox[0].body
    stranger = UserFactory(email="eve@example.com")
    client.force_login(stranger)
    response = client.post(f"/join/{invite.token}/")
    assert response.status_code == 403 and b"another e-mail" in response.content
    ada = UserFactory(email="Ada@Example.com")
    client.force_login(ada)
    assert client.post(f"/join/{invite.token}/").status_code == 302
    assert Membership.objects.get(user=ada).source == "invite"


def test_bad_limits_are_refused(client, creator):
    client.force_login(creator.owner)
    client.post("/studio/acme/students/", {"expires_in_days": "999"})
    client.post("/studio/acme/students/", {"max_uses": "0"})
    assert not Invite.objects.exists()


def test_invite_membership_of_closed_studio_does_nothing(client, creator):
    invite = invite_create(creator=creator, actor=creator.owner)
    Creator.objects.filter(pk=creator.pk).update(is_active=False)
    client.force_login(UserFactory())
    assert client.post(f"/join/{invite.token}/").status_code == 410


# --- Texts: Whop only when configured, no creator texts for students ------------------------


def test_sign_in_pages_mention_whop_only_when_configured(client, settings):
    for url in ("/accounts/login/", "/accounts/signup/", "/"):
        assert b"Whop" not in client.get(url).content, url
    settings.WHOP_CLIENT_ID = "app_client_test"
    assert b"Whop" in client.get("/accounts/login/").content
    assert b"Whop" in client.get("/accounts/signup/").content


def test_student_sees_no_creator_texts(client, creator):
    student = MembershipFactory(creator=creator, source="invite").user
    client.force_login(student)
    page = client.get("/").content.decode()
    assert "Acme Academy" in page
    assert "manage a creator" not in page and "Create a studio" not in page
    assert "Your studios" not in page


def test_newcomer_is_offered_a_studio_not_a_dead_end(client):
    client.force_login(UserFactory())
    page = client.get("/").content.decode()
    assert "Install Chronos from Whop" not in page
    assert 'href="/studio/new/"' in page


def test_the_studios_own_address_opens_its_library(client, creator, other_creator, student):
    client.force_login(creator.owner)
    response = client.get("/studio/acme/")
    assert response.status_code == 302 and response["Location"] == "/studio/acme/videos/"
    assert client.get("/studio/globex/").status_code == 404
    client.force_login(student)
    assert client.get("/studio/acme/").status_code == 404


def test_students_page_lists_the_studios_members_and_who_has_access(
    client, creator, other_creator, django_assert_max_num_queries
):
    past = timezone.now() - timedelta(days=1)
    MembershipFactory(creator=creator, user=UserFactory(email="ada@example.com"))
    MembershipFactory(
        creator=creator,
        user=UserFactory(email="bo@example.com"),
        status=Membership.Status.CANCELING,
        valid_until=past,
    )
    MembershipFactory(creator=creator, user=UserFactory(email="cy@example.com"), status="canceled")
    MembershipFactory(creator=other_creator, user=UserFactory(email="eve@example.com"))
    client.force_login(creator.owner)
    with django_assert_max_num_queries(13):  # the page + its members, not one per member
        page = client.get("/studio/acme/students/")
    assert page.status_code == 200
    rows = {m.user.email: m for m in page.context["members"]}
    assert set(rows) == {"ada@example.com", "bo@example.com", "cy@example.com"}
    assert [rows[e].access_label for e in sorted(rows)] == ["Active", "Ended", "Canceled"]
    assert [rows[e].has_access for e in sorted(rows)] == [True, False, False]
    assert page.context["members_active"] == 1
    html = page.content.decode()
    assert "eve@example.com" not in html and "1 with access · 3 in all" in html
    # Each row links to the student's analytics page.
    ada = rows["ada@example.com"].user
    assert f"/studio/acme/analytics/students/{ada.pk}/" in html


def test_students_page_pages_its_members(client, creator):
    from creators.selectors import MEMBERS_PER_PAGE

    for _ in range(MEMBERS_PER_PAGE + 1):
        MembershipFactory(creator=creator)
    client.force_login(creator.owner)
    first = client.get("/studio/acme/students/")
    assert len(first.context["members"]) == MEMBERS_PER_PAGE and "?page=2" in first.content.decode()
    second = client.get("/studio/acme/students/?page=2")
    assert len(second.context["members"]) == 1
    # A malformed or too large page number shows a page, not an error.
    assert client.get("/studio/acme/students/?page=x").status_code == 200
    assert len(client.get("/studio/acme/students/?page=99").context["members"]) == 1
