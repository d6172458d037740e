"""A real, small OpenID Connect provider shaped like Pro Santé Connect, for the tests.

A Starlette app served by uvicorn on a free port (in a thread of the test process, so that
tests can change what it answers): discovery document, JWKS, an authorization endpoint that
auto-approves the configured user (PKCE S256 required), a token endpoint (client secret
checked with HTTP Basic, codes used once, PKCE verifier checked, RS256 ID tokens signed with
joserfc, authlib's JOSE layer) and a userinfo endpoint serving `SubjectNameID` as PSC does.

`Misbehaviour` makes the next tokens wrong in one chosen way (another signing key, another
audience, an old expiry...), so that the tests can check the client refuses each.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.servers import free_port


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class Misbehaviour:
    """How the next ID tokens (and userinfo answers) differ from correct ones."""

    issuer: str | None = None  # another `iss`
    audience: Any = None  # another `aud` (a string or a list)
    nonce: str | None = None  # another `nonce`
    acr: str | None = "eidas1"  # None: no `acr` claim
    expires_in: int = 300  # negative: already expired
    issued_in: int = 0  # positive: issued in the future
    signing_key: RSAKey | None = None  # sign with a key the JWKS does not hold
    unsigned: bool = False  # "alg": "none"
    national_id_in_id_token: bool = True  # False: only the userinfo endpoint has it
    userinfo_sub: str | None = None  # another subject at the userinfo endpoint
    userinfo_as_jwt: bool = False  # userinfo as a signed JWT (application/jwt)
    userinfo_signing_key: RSAKey | None = None  # ... signed with a key the JWKS does not hold
    at_hash: str | None = None  # another `at_hash`
    deny: bool = False  # the person refuses: authorize redirects with error=access_denied


@dataclass
class ProviderUser:
    national_id: str  # "8" + RPPS
    sub: str = field(default_factory=lambda: secrets.token_hex(16))
    given_name: str = "Alice"
    family_name: str = "Médecin"


class OidcProvider:
    def __init__(self, *, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/esante-wallet"
        self.signing_key = new_key("psc-key-1")
        self.published = [self.signing_key]
        self.user = ProviderUser(national_id="800000000000")
        self.misbehave = Misbehaviour()
        self.requests: Counter[str] = Counter()
        self.authorize_params: list[dict[str, str]] = []
        self.token_errors: list[str] = []
        self.issued: list[str] = []  # every code, access token and ID token handed out
        self._codes: dict[str, dict[str, Any]] = {}
        self._used_codes: set[str] = set()
        self._access_tokens: dict[str, ProviderUser] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- test controls ---------------------------------------------------------------------

    def reset(self) -> None:
        self.misbehave = Misbehaviour()
        self.requests.clear()
        self.authorize_params.clear()
        self.token_errors.clear()
        self.issued.clear()

    def rotate_key(self) -> RSAKey:
        """Sign with a new key from now on; the JWKS publishes both."""
        self.signing_key = new_key(f"psc-key-{len(self.published) + 1}")
        self.published.append(self.signing_key)
        return self.signing_key

    # --- the endpoints ---------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"/realms/esante-wallet/protocol/openid-connect/{name}"

    async def discovery(self, request: Request) -> Response:
        self.requests["discovery"] += 1
        base = f"http://127.0.0.1:{self.port}"
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": base + self._path("auth"),
            "token_endpoint": base + self._path("token"),
            "userinfo_endpoint": base + self._path("userinfo"),
            "jwks_uri": base + self._path("certs"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "acr_values_supported": ["eidas1"],
            "scopes_supported": ["openid", "scope_all"],
            "claims_supported": ["sub", "SubjectNameID", "given_name", "family_name"],
        })

    async def certs(self, request: Request) -> Response:
        self.requests["jwks"] += 1
        return JSONResponse(KeySet(list(self.published)).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        self.requests["authorize"] += 1
        params = dict(request.query_params)
        self.authorize_params.append(params)
        problems = [
            name for name, ok in (
                ("response_type", params.get("response_type") == "code"),
                ("client_id", params.get("client_id") == self.client_id),
                ("redirect_uri", params.get("redirect_uri") == self.redirect_uri),
                ("scope", "openid" in params.get("scope", "").split()),
                ("state", bool(params.get("state"))),
                ("nonce", bool(params.get("nonce"))),
                ("code_challenge", len(params.get("code_challenge", "")) == 43),
                ("code_challenge_method", params.get("code_challenge_method") == "S256"),
            ) if not ok
        ]
        if problems:
            return JSONResponse({"error": "invalid_request", "problems": problems},
                                status_code=400)
        if self.misbehave.deny:
            query = {"error": "access_denied", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            self.issued.append(code)
            self._codes[code] = {"nonce": params["nonce"], "challenge": params["code_challenge"],
                                 "redirect_uri": params["redirect_uri"], "user": self.user,
                                 "acr_values": params.get("acr_values", "")}
            query = {"code": code, "state": params["state"]}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

    def _token_error(self, why: str, status: int = 400, error: str = "invalid_grant"
                     ) -> Response:
        self.token_errors.append(why)
        return JSONResponse({"error": error, "error_description": why}, status_code=status)

    def _client_ok(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return (secrets.compare_digest(client_id, self.client_id)
                and secrets.compare_digest(secret, self.client_secret))

    async def token(self, request: Request) -> Response:
        self.requests["token"] += 1
        if not self._client_ok(request.headers.get("authorization", "")):
            return self._token_error("client authentication failed", 401, "invalid_client")
        form = await request.form()
        if form.get("grant_type") != "authorization_code":
            return self._token_error("grant_type", error="unsupported_grant_type")
        code = str(form.get("code", ""))
        if code in self._used_codes:
            return self._token_error("code already used")
        grant = self._codes.pop(code, None)
        if grant is None:
            return self._token_error("unknown code")
        self._used_codes.add(code)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._token_error("redirect_uri")
        verifier = str(form.get("code_verifier", ""))
        if not verifier or create_s256_code_challenge(verifier) != grant["challenge"]:
            return self._token_error("PKCE verifier")
        access_token = secrets.token_urlsafe(32)
        self._access_tokens[access_token] = grant["user"]
        id_token = self._id_token(grant, access_token)
        self.issued += [access_token, id_token]
        return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                             "expires_in": 120, "id_token": id_token, "scope": "openid scope_all"},
                            headers={"Cache-Control": "no-store"})

    def _id_token(self, grant: dict[str, Any], access_token: str) -> str:
        m, user = self.misbehave, grant["user"]
        now = int(time.time()) + m.issued_in
        claims: dict[str, Any] = {
            "iss": m.issuer or self.issuer,
            "sub": user.sub,
            "aud": m.audience if m.audience is not None else self.client_id,
            "exp": int(time.time()) + m.expires_in,
            "iat": now,
            "auth_time": now,
            "nonce": m.nonce or grant["nonce"],
            "azp": self.client_id,
            "at_hash": m.at_hash or create_half_hash(access_token, "RS256").decode(),
        }
        if m.acr is not None:
            claims["acr"] = m.acr
        if m.national_id_in_id_token:
            claims["SubjectNameID"] = user.national_id
        if m.unsigned:
            def b64(data: dict[str, Any]) -> str:
                raw = json.dumps(data).encode()
                return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
        key = m.signing_key or self.signing_key
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)

    async def userinfo(self, request: Request) -> Response:
        self.requests["userinfo"] += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        info = {"sub": self.misbehave.userinfo_sub or user.sub,
                "SubjectNameID": user.national_id,
                "given_name": user.given_name, "family_name": user.family_name}
        if self.misbehave.userinfo_as_jwt:
            info.update(iss=self.issuer, aud=self.client_id)
            key = self.misbehave.userinfo_signing_key or self.signing_key
            signed = jwt.encode({"alg": "RS256", "kid": key.kid}, info, key)
            return Response(signed, media_type="application/jwt")
        return JSONResponse(info)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/realms/esante-wallet/.well-known/openid-configuration", self.discovery),
            Route(self._path("certs"), self.certs),
            Route(self._path("auth"), self.authorize),
            Route(self._path("token"), self.token, methods=["POST"]),
            Route(self._path("userinfo"), self.userinfo),
        ])

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="oidc-provider",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@contextlib.contextmanager
def running_provider(**kwargs: str) -> Iterator[OidcProvider]:
    provider = OidcProvider(**kwargs)
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
