"""Email + password accounts through the styled allauth pages."""

from __future__ import annotations

from creators.models import User


def test_signup_login_logout_with_email(client, db):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200 and b"Create your account" in page.content
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "password1": "Tr1cky-Passw0rd!",
            "password2": "Tr1cky-Passw0rd!",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert int(client.session["_auth_user_id"]) == user.pk

    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session

    bad = client.post("/accounts/login/", {"login": "new@example.com", "password": "wrong"})
    assert bad.status_code == 200 and b'class="alert"' in bad.content
    assert "_auth_user_id" not in client.session
    good = client.post(
        "/accounts/login/", {"login": "new@example.com", "password": "Tr1cky-Passw0rd!"}
    )
    assert good.status_code == 302 and int(client.session["_auth_user_id"]) == user.pk


def test_signup_errors_are_shown_next_to_fields(client, db):
    response = client.post(
        "/accounts/signup/", {"email": "not-an-email", "password1": "a", "password2": "b"}
    )
    assert response.status_code == 200
    assert b"field-error" in response.content
    assert not User.objects.exists()


def test_logout_needs_post_and_shows_a_confirmation(client, db):
    user = User.objects.create_user(username="u", email="u@example.com", password="pw-Chronos-123")
    client.force_login(user)
    page = client.get("/accounts/logout/")
    assert page.status_code == 200 and b"Sign out?" in page.content
    assert int(client.session["_auth_user_id"]) == user.pk


def test_other_allauth_pages_use_the_site_layout(client, db):
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200
    assert b'class="topbar"' in page.content and b"auth-main" in page.content
