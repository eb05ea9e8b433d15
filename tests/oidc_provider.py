"""A small OpenID Connect provider over real HTTP on 127.0.0.1, for the single sign-on tests:
the authorization code flow with PKCE, RS256-signed id_tokens, userinfo and a JWKS.

`provider.user` holds the claims of whoever "logs in" at /authorize next; flags make it
misbehave (`sign_with_other_key`, `nonce_override`, `audience_override`,
`userinfo_sub_override`, `id_token_lifetime`)."""

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
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "webcare-test"
CLIENT_SECRET = "webcare-test-secret"
KEY_ID = "test-key-1"


@dataclass
class _Grant:
    claims: dict[str, Any]
    nonce: str | None
    redirect_uri: str
    code_challenge: str | None


@dataclass
class FakeOIDCProvider:
    host: str = "127.0.0.1"
    user: dict[str, Any] = field(default_factory=dict)
    sign_with_other_key: bool = False
    nonce_override: str | None = None
    audience_override: str | None = None
    userinfo_sub_override: str | None = None
    id_token_lifetime: int = 300
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self._server = ThreadingHTTPServer((self.host, 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def issuer(self) -> str:
        return self.url

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.user = {}
        self.sign_with_other_key = False
        self.nonce_override = None
        self.audience_override = None
        self.userinfo_sub_override = None
        self.id_token_lifetime = 300
        self.token_requests.clear()

    def django_settings(self) -> dict[str, Any]:
        return {
            "WEBCARE_OIDC_ENABLED": True,
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_LOGOUT_ENDPOINT": "",
            "OIDC_PROVIDER_NAME": "Demodorp ID",
            "OIDC_ROLE_GROUPS": {
                "administrator": ["webcare-beheer"],
                "team_lead": ["webcare-teamleiders"],
                "agent": ["webcare-medewerkers"],
                "trainee": ["webcare-stagiairs"],
            },
            "AUTHENTICATION_BACKENDS": [
                "webcare.login.ThrottledModelBackend",
                "webcare.oidc.OIDCBackend",
            ],
        }

    # --- What the endpoints do ------------------------------------------------------------

    def _authorize(self, query: dict[str, str]) -> str:
        code = secrets.token_urlsafe(16)
        self._grants[code] = _Grant(
            claims=dict(self.user),
            nonce=query.get("nonce"),
            redirect_uri=query["redirect_uri"],
            code_challenge=query.get("code_challenge"),
        )
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or form.get("client_secret") != CLIENT_SECRET:
            return 400, {"error": "invalid_grant"}
        if grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
            if challenge.rstrip(b"=").decode() != grant.code_challenge:
                return 400, {"error": "invalid_grant"}
        now = int(time.time())
        id_claims = {
            "iss": self.issuer,
            "aud": self.audience_override or CLIENT_ID,
            "iat": now,
            "exp": now + self.id_token_lifetime,
            "nonce": self.nonce_override or grant.nonce,
            **grant.claims,
        }
        key = self.other_key if self.sign_with_other_key else self.key
        id_token = jwt.encode(id_claims, key, algorithm="RS256", headers={"kid": KEY_ID})
        access_token = secrets.token_urlsafe(16)
        userinfo = dict(grant.claims)
        if self.userinfo_sub_override:
            userinfo["sub"] = self.userinfo_sub_override
        self._access_tokens[access_token] = userinfo
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def _jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KEY_ID, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                if parts.path == "/authorize":
                    self.send_response(302)
                    self.send_header("Location", provider._authorize(query))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif parts.path == "/jwks":
                    self._json(200, provider._jwks())
                elif parts.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    claims = provider._access_tokens.get(token)
                    if claims is None:
                        self._json(401, {"error": "invalid_token"})
                    else:
                        self._json(200, claims)
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                form = {key: values[0] for key, values in parse_qs(raw).items()}
                if urlsplit(self.path).path == "/token":
                    self._json(*provider._token(form))
                else:
                    self._json(404, {"error": "not_found"})

        return Handler
