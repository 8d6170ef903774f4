"""Chronos inside Whop: the view paths Whop frames, through the real whop-sdk against a
loopback Whop (REST API + JWKS). Roles come from Whop's access check on every visit."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from creators.models import Creator, CreatorMember, Membership, User
from tests.factories import CreatorFactory, MembershipFactory, UserFactory
from tests.whop_api_server import API_KEY, APP_ID, WhopAPI, experience_payload

EXP = "exp_Chem0001"
BIZ = "biz_Faraday01"
ADMIN, STUDENT, STRANGER = "user_Admin001", "user_Student01", "user_Stranger1"


@pytest.fixture
def whop(settings):
    api = WhopAPI().start()
    api.experiences[EXP] = experience_payload(
        EXP, company_id=BIZ, company_title="Faraday's Lectures"
    )
    api.access.update(
        {
            (ADMIN, EXP): "admin",
            (ADMIN, BIZ): "admin",
            (STUDENT, EXP): "customer",
            (STUDENT, BIZ): "no_access",
        }
    )
    settings.WHOP_APP_ID = APP_ID
    settings.WHOP_API_KEY = API_KEY
    settings.WHOP_API_BASE = api.base_url
    settings.WHOP_JWKS_URL = f"{api.base_url}/.well-known/jwks.json"
    cache.clear()
    yield api
    cache.clear()
    api.stop()


@pytest.fixture
def faraday(db):
    return CreatorFactory(
        handle="faradays-lectures",
        company_name="Faraday's Lectures",
        whop_company_id=BIZ,
        owner=None,
    )


def visit(client, whop, path: str, sub: str, **token_kwargs):
    return client.get(path, headers={"x-whop-user-token": whop.user_token(sub, **token_kwargs)})


def test_admin_opening_the_dashboard_becomes_owner_and_gets_the_studio(client, whop, faraday):
    response = visit(client, whop, f"/dashboard/{BIZ}/", ADMIN)
    assert response.status_code == 302
    assert response["Location"] == "/studio/faradays-lectures/videos/"
    faraday.refresh_from_db()
    assert faraday.owner.whop_user_id == ADMIN
    assert client.get(response["Location"]).status_code == 200
    # The access check went through Whop's API with the app key, for the company.
    assert [r.path for r in whop.calls("/api/v1/users/")] == [f"/api/v1/users/{ADMIN}/access/{BIZ}"]


def test_second_admin_joins_the_team_not_the_ownership(client, whop, faraday):
    visit(client, whop, f"/dashboard/{BIZ}/", ADMIN)
    whop.access[("user_Admin002", BIZ)] = "admin"
    client.logout()
    response = visit(client, whop, f"/dashboard/{BIZ}/", "user_Admin002")
    assert response.status_code == 302
    faraday.refresh_from_db()
    assert faraday.owner.whop_user_id == ADMIN
    second = User.objects.get(whop_user_id="user_Admin002")
    assert CreatorMember.objects.get(creator=faraday, user=second).role == "admin"


def test_customer_on_the_dashboard_gets_no_studio(client, whop, faraday):
    response = visit(client, whop, f"/dashboard/{BIZ}/", STUDENT)
    assert response.status_code == 403 and b"company's team" in response.content
    faraday.refresh_from_db()
    assert faraday.owner is None
    assert not CreatorMember.objects.filter(creator=faraday).exists()


def test_admin_in_the_experience_gets_the_studio(client, whop, faraday):
    response = visit(client, whop, f"/experiences/{EXP}/", ADMIN)
    assert response.status_code == 302 and response["Location"].startswith("/studio/")
    assert [r.path for r in whop.calls("/api/v1/experiences/")] == [f"/api/v1/experiences/{EXP}"]


def test_customer_gets_the_catalog_and_a_membership(client, whop, faraday):
    response = visit(client, whop, f"/experiences/{EXP}/", STUDENT)
    assert response.status_code == 302
    assert response["Location"].startswith("/learn/faradays-lectures/")
    membership = Membership.objects.get(creator=faraday, user__whop_user_id=STUDENT)
    assert membership.status == "active" and membership.source == "whop"
    assert client.get(response["Location"]).status_code == 200


def test_no_access_gets_the_purchase_link_and_nothing_else(client, whop, faraday):
    response = visit(client, whop, f"/experiences/{EXP}/", STRANGER)
    assert response.status_code == 403
    body = response.content.decode()
    assert "https://whop.com/faraday-lectures/chemistry-101/" in body
    assert "Chemistry 101" in body
    assert not Membership.objects.filter(creator=faraday).exists()
    assert client.get("/learn/faradays-lectures/").status_code == 404


def test_kid_less_token_opens_the_experience(client, whop, faraday):
    response = visit(client, whop, f"/experiences/{EXP}/", STUDENT, kid=None)
    assert response.status_code == 302 and "/learn/" in response["Location"]


def test_role_is_refreshed_from_whop_on_later_visits(client, whop, faraday, settings):
    """Access lost at Whop (no webhook) is seen at the next visit once the cache expires."""
    visit(client, whop, f"/experiences/{EXP}/", STUDENT)
    student = User.objects.get(whop_user_id=STUDENT)
    assert faraday in Creator.objects.filter(memberships__user=student)
    whop.access[(STUDENT, EXP)] = "no_access"
    # Within the cache window the answer is reused: one access call so far.
    visit(client, whop, f"/experiences/{EXP}/", STUDENT)
    assert len(whop.calls(f"/api/v1/users/{STUDENT}/")) == 1
    cache.clear()  # the <= 5 minute window has passed
    response = visit(client, whop, f"/experiences/{EXP}/", STUDENT)
    assert response.status_code == 403
    membership = Membership.objects.get(creator=faraday, user=student)
    assert membership.status == "inactive"
    assert not Membership.objects.active().filter(pk=membership.pk).exists()
    assert settings.WHOP_ACCESS_CACHE_SECONDS <= 300


def test_invite_membership_is_not_revoked_by_whop(client, whop, faraday):
    """A student the creator invited keeps access even if Whop says no_access."""
    student = UserFactory(whop_user_id=STRANGER)
    MembershipFactory(creator=faraday, user=student, source="invite")
    response = visit(client, whop, f"/experiences/{EXP}/", STRANGER)
    assert response.status_code == 403  # the Whop product page is for Whop members
    assert Membership.objects.active().filter(creator=faraday, user=student).exists()


def test_company_without_install_yet_says_so(client, whop, db):
    response = visit(client, whop, f"/experiences/{EXP}/", ADMIN)
    assert response.status_code == 503
    assert b"hasn't told us about this installation" in response.content
    assert not Creator.objects.exists()


def test_unknown_experience_or_whop_down_is_a_clear_page(client, whop, faraday):
    assert visit(client, whop, "/experiences/exp_Nope/", ADMIN).status_code == 502
    for bad in ("/experiences/biz_X/", "/experiences/exp_a%2Fb/", "/dashboard/exp_X/"):
        assert visit(client, whop, bad, ADMIN).status_code == 404
    assert len(whop.calls("/api/v1/")) == 1  # only exp_Nope was asked about
    whop.down = True
    cache.clear()
    response = visit(client, whop, f"/experiences/{EXP}/", ADMIN)
    assert response.status_code == 502 and b"couldn't reach Whop" in response.content


@pytest.mark.parametrize("path", [f"/experiences/{EXP}/", f"/dashboard/{BIZ}/"])
def test_without_a_whop_identity_nothing_is_asked(client, whop, faraday, path):
    assert client.get(path).status_code == 401
    client.force_login(UserFactory())  # e-mail account, no Whop id
    assert client.get(path).status_code == 401
    bad = whop.user_token(ADMIN, aud="app_someone_else")
    assert client.get(path, headers={"x-whop-user-token": bad}).status_code == 401
    assert whop.calls("/api/v1/") == []


def test_whop_sign_in_session_is_enough(client, whop, faraday):
    """Signed in with Whop (OAuth) outside the iframe: no header needed."""
    client.force_login(UserFactory(whop_user_id=STUDENT))
    response = client.get(f"/experiences/{EXP}/")
    assert response.status_code == 302 and "/learn/" in response["Location"]
