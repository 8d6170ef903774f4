"""Authentication backends (settings.AUTHENTICATION_BACKENDS): Django's and allauth's, each
loading the signed-in user of a request with one fixed statement.

`django.contrib.auth.get_user` asks the backend that signed the session in for the user on
every signed-in request; the backends' `UserModel._default_manager.get(pk=...)` built and
compiled an ORM query each time (~0.7-1.6 ms of Python against ~0.2 ms for the statement;
README "Watch events"). Signing in, permissions and everything else are theirs, unchanged.
The session's hash check, inactive users and the rest of `get_user` are Django's own.
"""

from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from creators.selectors import user_by_pk


class _UserByPk:
    def get_user(self, user_id):
        """The active user `user_id` (the session's stored id, a string) or None, as
        ModelBackend.get_user (inactive users: None)."""
        user = user_by_pk(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_UserByPk, DjangoModelBackend):
    """django.contrib.auth's ModelBackend, the user read by one fixed statement."""


class AuthenticationBackend(_UserByPk, AllauthBackend):
    """allauth's AuthenticationBackend, the user read by one fixed statement."""
