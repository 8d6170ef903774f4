"""allauth adapters: map Whop's OpenID userinfo onto our User.

Whop userinfo (docs.whop.com OAuth guide): sub ("user_..."), name, preferred_username,
picture, email (with the email scope). The SocialAccount uid is `sub`; it is also stored on
User.whop_user_id so iframe and webhook logins find the same person.
"""

from __future__ import annotations

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from creators.models import User
from creators.services.people import user_profile_refresh
from creators.whop import WHOP_PROVIDER_ID


def _userinfo(sociallogin) -> dict:
    extra = sociallogin.account.extra_data or {}
    return extra.get("userinfo") or extra.get("id_token") or extra


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == WHOP_PROVIDER_ID:
            info = _userinfo(sociallogin)
            user.whop_user_id = sociallogin.account.uid
            user.display_name = (info.get("name") or info.get("preferred_username") or "")[:150]
            user.avatar_url = (info.get("picture") or "")[:500]
        return user

    def pre_social_login(self, request, sociallogin):
        if sociallogin.account.provider != WHOP_PROVIDER_ID:
            return
        # A sign-in completes here; allauth may log the previous session out first, and that
        # logout must not revoke the tokens just stored (see creators.signals).
        request._whop_login_in_progress = True
        if sociallogin.is_existing:
            _refresh_profile(sociallogin.user, _userinfo(sociallogin), sociallogin.account.uid)
            return
        # Known from the Whop iframe or a webhook but never signed in with Whop: attach the
        # social account to that user instead of creating a duplicate.
        existing = User.objects.filter(whop_user_id=sociallogin.account.uid).first()
        if existing is not None:
            sociallogin.user = existing
            sociallogin.save(request, connect=True)
            _refresh_profile(existing, _userinfo(sociallogin), sociallogin.account.uid)


def _refresh_profile(user: User, info: dict, uid: str) -> None:
    user_profile_refresh(
        user=user,
        whop_user_id=uid,
        display_name=info.get("name") or "",
        avatar_url=info.get("picture") or "",
    )
