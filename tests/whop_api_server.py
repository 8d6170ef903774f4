"""A loopback Whop: its REST API (the parts Chronos calls) and its JWKS, for the real whop-sdk.

    GET /api/v1/experiences/{id}             -> the Experience (whop_sdk.types.Experience)
    GET /api/v1/users/{id}/access/{resource} -> {"access_level", "has_access"}
    GET /.well-known/jwks.json               -> the ES256 key that signs x-whop-user-token

Every API call must carry `Authorization: Bearer <api_key>` (401 otherwise). Access levels
are set per (user, resource) in `server.access`; unknown pairs answer "no_access".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.loopback import LoopbackServer, Request, Response
from tests.oidc_server import OIDCServer, forget_whop_key_sets

API_KEY = "apik_loopback_test"
APP_ID = "app_chronos_test"


def experience_payload(
    exp_id: str, *, company_id: str, company_title: str, product_title: str = "Chemistry 101"
) -> dict:
    """An experience as Whop's API returns it (fields required by whop_sdk's model)."""
    return {
        "id": exp_id,
        "name": "Chronos",
        "app": {"id": APP_ID, "name": "Chronos", "icon": None},
        "company": {"id": company_id, "title": company_title, "route": "faraday-lectures"},
        "created_at": "2026-01-05T10:00:00.000Z",
        "image": None,
        "is_public": False,
        "order": None,
        "products": [{"id": "prod_Chem101", "title": product_title, "route": "chemistry-101"}],
    }


@dataclass
class WhopAPI:
    experiences: dict[str, dict] = field(default_factory=dict)
    access: dict[tuple[str, str], str] = field(default_factory=dict)
    down: bool = False

    def __post_init__(self) -> None:
        self.keys = OIDCServer()  # only its key pair and token signing are used
        self.server = LoopbackServer(self.handle)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> WhopAPI:
        forget_whop_key_sets()  # see OIDCServer.start
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def calls(self, prefix: str) -> list[Request]:
        return [r for r in self.server.requests if r.path.startswith(prefix)]

    def user_token(self, sub: str, **kwargs) -> str:
        return self.keys.user_token(sub=sub, **{"aud": APP_ID, **kwargs})

    def handle(self, req: Request):
        if req.path == "/.well-known/jwks.json":
            return self.keys.jwks()
        if self.down:
            return Response.json({"error": {"message": "unavailable"}}, status=503)
        if req.headers.get("authorization") != f"Bearer {API_KEY}":
            return Response.json({"error": {"message": "unauthorized"}}, status=401)
        parts = req.path.strip("/").split("/")
        if parts[:2] == ["api", "v1"] and len(parts) == 4 and parts[2] == "experiences":
            experience = self.experiences.get(parts[3])
            if experience is None:
                return Response.json({"error": {"message": "not found"}}, status=404)
            return experience
        if parts[:3] == ["api", "v1", "users"] and len(parts) == 6 and parts[4] == "access":
            level = self.access.get((parts[3], parts[5]), "no_access")
            return {"access_level": level, "has_access": level != "no_access"}
        return Response.json({"error": {"message": f"no route {req.path}"}}, status=404)
