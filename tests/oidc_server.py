"""A loopback OpenID Connect provider speaking Whop's OAuth wire format, for tests.

Endpoints (as Whop's, under one base URL):
  GET  /.well-known/openid-configuration   discovery
  GET  /.well-known/jwks.json               ES256 public key (also signs iframe user tokens)
  GET  /oauth/authorize                     answers 302 to redirect_uri?code&state
                                            (no login page: the test "approves" by calling it)
  POST /oauth/token                         authorization_code (PKCE S256 checked against
                                            the code_verifier) and refresh_token (rotating:
                                            each refresh token works once)
  GET  /oauth/userinfo                      Bearer access token -> sub, name, ...
  POST /oauth/revoke                        RFC 7009 revocation

Everything it sees is recorded (`server.requests`, `server.revoked`), and `server.fail_revoke`
makes /oauth/revoke answer 500, to test that sign-out never depends on Whop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

KID = "loopback-es256"
USER_TOKEN_ISSUER = "urn:whopcom:exp-proxy"


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class WhopUser:
    sub: str = "user_Loop1234567"
    name: str = "Ada Lovelace"
    preferred_username: str = "ada"
    email: str = "ada@example.com"
    picture: str = "https://cdn.example.com/ada.png"

    def userinfo(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "name": self.name,
            "preferred_username": self.preferred_username,
            "picture": self.picture,
            "email": self.email,
            "email_verified": True,
        }


def forget_whop_key_sets() -> None:
    """Drop whop-sdk's module-level JWKS cache (its own test hook)."""
    from whop_sdk.lib.verify_user_token import _reset_jwks_cache

    _reset_jwks_cache()


@dataclass
class OIDCServer:
    client_id: str = "app_client_test"
    client_secret: str = "secret_test_value"
    user: WhopUser = field(default_factory=WhopUser)
    require_pkce: bool = True
    fail_revoke: bool = False
    access_token_ttl: int = 3600

    def __post_init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.requests: list[tuple[str, str, dict]] = []
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, str] = {}  # token -> sub
        self.refresh_tokens: dict[str, str] = {}  # currently valid refresh token -> sub
        self.used_refresh_tokens: set[str] = set()
        self.revoked: list[str] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OIDCServer:
        # A new key under a URL an earlier server may have had (ports are reused): whop-sdk
        # caches key sets by URL, and would otherwise check our tokens against the old key.
        forget_whop_key_sets()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: Any = None, headers: dict | None = None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append(("GET", url.path, query))
                status, body, headers = server.handle_get(url.path, query, dict(self.headers))
                self._send(status, body, headers)

            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                server.requests.append(("POST", url.path, form))
                status, body = server.handle_post(url.path, form, dict(self.headers))
                self._send(status, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # --- keys and tokens ------------------------------------------------------------------
    def jwks(self) -> dict:
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]}

    def sign(self, claims: dict, *, key=None, kid: str | None = KID) -> str:
        """ES256 JWT; `kid=None` leaves the header without a kid (older Whop tokens)."""
        headers = {"kid": kid} if kid else None
        return jwt.encode(claims, key or self.private_key, algorithm="ES256", headers=headers)

    def user_token(
        self,
        *,
        sub: str | None = None,
        aud: str = "app_chronos_test",
        iss: str = USER_TOKEN_ISSUER,
        expires_in: int = 300,
        key=None,
        kid: str | None = KID,
    ) -> str:
        """An iframe `x-whop-user-token` as Whop's proxy would send it (`kid=None`: the
        older kid-less form Whop still issues)."""
        now = int(time.time())
        claims = {
            "sub": sub or self.user.sub,
            "aud": aud,
            "iss": iss,
            "iat": now,
            "exp": now + expires_in,
        }
        return self.sign(claims, key=key, kid=kid)

    def _issue(self, sub: str) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens[access] = sub
        self.refresh_tokens[refresh] = sub
        now = int(time.time())
        id_token = self.sign(
            {"iss": self.base_url, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 3600}
        )
        return {
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
        }

    # --- endpoints --------------------------------------------------------------------------
    def discovery(self) -> dict:
        base = self.base_url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "userinfo_endpoint": f"{base}/oauth/userinfo",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "scopes_supported": ["openid", "profile", "email"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
        }

    def handle_get(self, path: str, query: dict, headers: dict):
        if path == "/.well-known/openid-configuration":
            return 200, self.discovery(), None
        if path == "/.well-known/jwks.json":
            return 200, self.jwks(), None
        if path == "/oauth/authorize":
            return self.authorize(query)
        if path == "/oauth/userinfo":
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            sub = self.access_tokens.get(auth.removeprefix("Bearer ").strip())
            if sub is None:
                return 401, {"error": "invalid_token"}, None
            return 200, self.user.userinfo(), None
        return 404, {"error": "not_found"}, None

    def authorize(self, query: dict):
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return 400, {"error": "invalid_client"}, None
        if query.get("response_type") != "code":
            return 400, {"error": "unsupported_response_type"}, None
        if "openid" not in query.get("scope", "").split():
            return 400, {"error": "invalid_scope"}, None
        challenge = query.get("code_challenge")
        if self.require_pkce and (not challenge or query.get("code_challenge_method") != "S256"):
            error = {
                "error": "invalid_request",
                "error_description": "PKCE S256 required",
                "state": query.get("state", ""),
            }
            return 302, None, {"Location": f"{redirect_uri}?{urlencode(error)}"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": redirect_uri,
            "challenge": challenge,
            "sub": self.user.sub,
            "scope": query.get("scope"),
        }
        params = {"code": code, "state": query.get("state", "")}
        return 302, None, {"Location": f"{redirect_uri}?{urlencode(params)}"}

    def handle_post(self, path: str, form: dict, headers: dict):
        if path == "/oauth/token":
            with self.lock:
                return self.token(form)
        if path == "/oauth/revoke":
            if self.fail_revoke:
                return 500, {"error": "server_error"}
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client"}
            token = form.get("token", "")
            self.revoked.append(token)
            self.refresh_tokens.pop(token, None)
            self.access_tokens.pop(token, None)
            return 200, {}
        return 404, {"error": "not_found"}

    def token(self, form: dict):
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)
            if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant"}
            if issued["challenge"] or self.require_pkce:
                verifier = form.get("code_verifier", "")
                if not verifier or pkce_challenge(verifier) != issued["challenge"]:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "PKCE verification failed",
                    }
            return 200, self._issue(issued["sub"])
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            sub = self.refresh_tokens.pop(refresh, None)  # rotation: one use only
            if sub is None:
                return 400, {"error": "invalid_grant"}
            self.used_refresh_tokens.add(refresh)
            return 200, self._issue(sub)
        return 400, {"error": "unsupported_grant_type"}
