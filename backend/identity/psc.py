"""Pro Santé Connect login for professionals: OpenID Connect, authorization code flow with
PKCE (S256) and a nonce, against the issuer of PSC_ISSUER (Pro Santé Connect, or any provider
shaped like it), built on authlib (request and claim rules) and joserfc (authlib's JOSE layer:
signatures against the provider's JWKS).

1. `start_login`: a random state, nonce and PKCE verifier, kept server-side (key-value store,
   PSC_STATE_TTL_SECONDS, keyed by a keyed hash of the state, bound to the browser by a
   cookie value), then the provider's authorization URL (with `acr_values` = PSC_ACR).
   The web app starts every login with a `binding`: the SHA-256 (base64url) of a secret it
   drew for the tab and keeps server-side. The binding goes with the state record, then with
   the ticket, and `exchange_ticket` only succeeds for whoever shows the secret: a ticket
   link sent to someone else (login CSRF: signing a victim in to the attacker's account)
   is refused in the victim's tab, and burnt.
2. `finish_login` (the callback): the state is consumed (one use), the code is exchanged at the
   token endpoint with the verifier and the client secret, and the ID token is checked:
   signature (JWKS, refreshed once when a `kid` is unknown), `iss`, `aud` (exactly this
   client), `exp` and `iat` (a small leeway), `nonce`, `acr`, `at_hash`. The national id
   (`SubjectNameID`, "8" + RPPS, from the ID token or else the userinfo endpoint, as PSC
   serves it) names the professional. The answer is a one-time ticket (TICKET_TTL_SECONDS,
   one use), never a session token: the browser carries it to the web app, which trades it
   through GraphQL `exchangeLoginTicket` (`exchange_ticket`) for a normal Carnet session.

Every refusal is audited (REFUSAL_KIND, reason "psc:<why>"); codes, tokens, states, nonces
and tickets are never logged nor audited, and the key-value store holds only their hashes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.crypto import keyed_hash
from backend.errors import DomainError
from backend.i18n import N_
from backend.identity.models import Account, AccountStatus, Professional, Role
from backend.identity.services import session_store
from backend.identity.sessions import SessionRecord
from backend.runtime import Runtime
from backend.settings import Settings

log = logging.getLogger(__name__)

TICKET_TTL_SECONDS = 60
CLOCK_LEEWAY_SECONDS = 30
METADATA_TTL_SECONDS = 3600
JWKS_TTL_SECONDS = 3600
# An unknown `kid` refreshes the JWKS (the provider rotated its keys), at most this often.
JWKS_MIN_REFRESH_SECONDS = 10
HTTP_TIMEOUT_SECONDS = 10.0
# Asymmetric algorithms only: never "none", never HS* (the client secret is no signing key).
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
NATIONAL_ID_CLAIM = "SubjectNameID"
RPPS_PREFIX = "8"
# Refusals reuse the first-factor failure kind (a new kind would need a migration): the
# reason "psc:<why>" tells them apart from password failures.
REFUSAL_KIND = AuditKind.LOGIN_PASSWORD_FAILED
BROWSER_COOKIE = "carnet_psc"
# The web app's tab binding, as /auth/psc/login?binding= carries it: SHA-256, base64url.
TAB_BINDING = re.compile(r"[A-Za-z0-9_-]{43}")


# --- errors ------------------------------------------------------------------------------


class PscError(DomainError):
    """A refused Pro Santé Connect login; `status` is the HTTP status of the refusal page and
    `reason` the audit trail's tag (never a secret). In GraphQL (`exchangeLoginTicket`) it is
    answered as `LoginTicketInvalid` (`RateLimited` for PscRateLimited)."""

    status = 401
    reason = "psc:refused"
    message = N_("Connexion Pro Santé Connect refusée.")


class PscNotConfigured(PscError):
    status = 404
    reason = "psc:not_configured"
    message = N_("La connexion par Pro Santé Connect n'est pas activée sur ce serveur.")


class PscStateInvalid(PscError):
    status = 400
    reason = "psc:state"
    message = N_("Cette tentative de connexion a expiré ou a déjà servi. Recommencez la "
                 "connexion avec Pro Santé Connect.")


class PscDenied(PscError):
    status = 401
    reason = "psc:denied"
    message = N_("La connexion a été annulée ou refusée par Pro Santé Connect.")


class PscTokenInvalid(PscError):
    status = 401
    message = N_("La réponse de Pro Santé Connect n'a pas pu être vérifiée : connexion refusée. "
                 "Recommencez la connexion.")

    def __init__(self, why: str) -> None:
        super().__init__()
        self.reason = f"psc:{why}"


class PscUnknownProfessional(PscError):
    status = 401
    reason = "psc:unknown_rpps"
    message = N_("Aucun compte professionnel Carnet ne correspond à votre identité Pro Santé "
                 "Connect (RPPS). Contactez l'assistance de Carnet pour faire ouvrir votre "
                 "compte.")


class PscUnavailable(PscError):
    status = 502
    reason = "psc:unavailable"
    message = N_("Pro Santé Connect ne répond pas pour le moment. Réessayez dans quelques "
                 "instants.")


class PscRateLimited(PscError):
    status = 429
    reason = "psc:rate_limited"
    message = N_("Trop de tentatives de connexion. Réessayez dans quelques instants.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, int(retry_after))


class PscBindingMissing(PscError):
    status = 400
    reason = "psc:binding"
    message = N_("Cette connexion doit commencer depuis la page de connexion de Carnet. Revenez "
                 "sur Carnet et cliquez sur « Se connecter avec Pro Santé Connect ».")


class LoginTicketInvalid(PscError):
    status = 400
    reason = "psc:ticket"
    message = N_("Ce lien de connexion a expiré ou a déjà servi. Reconnectez-vous avec Pro Santé "
                 "Connect.")


# --- the provider: discovery document and keys, cached per process -----------------------


@dataclass
class _Provider:
    issuer: str
    metadata: OpenIDProviderMetadata | None = None
    metadata_at: float = 0.0
    keys: KeySet | None = None
    keys_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_providers: dict[str, _Provider] = {}


def forget_cached_providers() -> None:
    """Drop the cached discovery documents and keys (the next login fetches them again)."""
    _providers.clear()


def _provider(settings: Settings) -> _Provider:
    if not settings.psc_enabled:
        raise PscNotConfigured()
    issuer = str(settings.psc_issuer)
    provider = _providers.get(issuer)
    if provider is None:
        provider = _providers[issuer] = _Provider(issuer)
    return provider


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False,
                             headers={"Accept": "application/json"})


async def _get_json(client: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        log.warning("Pro Santé Connect %s unreachable (%s)", what, type(exc).__name__)
        raise PscUnavailable() from None
    if response.status_code != 200:
        log.warning("Pro Santé Connect %s answered HTTP %s", what, response.status_code)
        raise PscUnavailable()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("Pro Santé Connect %s is not a JSON object", what)
        raise PscUnavailable()
    return body


async def _metadata(provider: _Provider, client: httpx.AsyncClient) -> OpenIDProviderMetadata:
    if provider.metadata is not None and time.monotonic() - provider.metadata_at < (
            METADATA_TTL_SECONDS):
        return provider.metadata
    async with provider.lock:
        if provider.metadata is None or time.monotonic() - provider.metadata_at >= (
                METADATA_TTL_SECONDS):
            body = await _get_json(
                client, f"{provider.issuer}/.well-known/openid-configuration", "discovery")
            metadata = OpenIDProviderMetadata(body)
            try:
                metadata.validate()
            except ValueError as exc:
                log.warning("Pro Santé Connect discovery document refused: %s", exc)
                raise PscUnavailable() from None
            # OpenID Connect Discovery 4.3: the document must name the issuer we asked.
            if str(metadata["issuer"]).rstrip("/") != provider.issuer:
                log.warning("Pro Santé Connect discovery document names another issuer")
                raise PscUnavailable()
            provider.metadata, provider.metadata_at = metadata, time.monotonic()
            provider.keys = None  # keys come from the document's jwks_uri
    assert provider.metadata is not None
    return provider.metadata


async def _keys(provider: _Provider, client: httpx.AsyncClient, *, refresh: bool = False
                ) -> KeySet:
    """The provider's signing keys; `refresh`: fetch again (an unknown `kid`), unless they
    were fetched less than JWKS_MIN_REFRESH_SECONDS ago."""
    def fresh() -> bool:
        if provider.keys is None:
            return False
        age = time.monotonic() - provider.keys_at
        return age < JWKS_MIN_REFRESH_SECONDS if refresh else age < JWKS_TTL_SECONDS

    if fresh():
        assert provider.keys is not None
        return provider.keys
    metadata = await _metadata(provider, client)
    async with provider.lock:
        if not fresh():
            body = await _get_json(client, str(metadata["jwks_uri"]), "JWKS")
            try:
                keys = KeySet.import_key_set(body)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                log.warning("Pro Santé Connect JWKS could not be read")
                raise PscUnavailable() from None
            provider.keys, provider.keys_at = keys, time.monotonic()
    assert provider.keys is not None
    return provider.keys


def _algorithms(metadata: OpenIDProviderMetadata) -> list[str]:
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [alg for alg in SIGNING_ALGORITHMS if alg in offered]


async def _verified_jwt(provider: _Provider, client: httpx.AsyncClient, value: str
                        ) -> jwt.Token:
    """Check a JWT's signature against the provider's keys (refreshed once for an unknown
    `kid`); its claims are checked by the caller."""
    metadata = await _metadata(provider, client)
    algorithms = _algorithms(metadata)
    try:
        header = jws.extract_compact(value.encode()).headers()
    except (JoseError, ValueError, TypeError):
        raise PscTokenInvalid("malformed") from None
    if header.get("alg") not in algorithms:
        raise PscTokenInvalid("algorithm")
    keys = await _keys(provider, client)
    kid = header.get("kid")
    if kid is not None and kid not in {key.kid for key in keys}:
        keys = await _keys(provider, client, refresh=True)
        if kid not in {key.kid for key in keys}:
            raise PscTokenInvalid("unknown_key")
    try:
        return jwt.decode(value, keys, algorithms=algorithms)
    except JoseError:
        raise PscTokenInvalid("signature") from None


# --- the flow ------------------------------------------------------------------------------


@dataclass
class LoginStart:
    url: str  # the provider's authorization URL
    browser_binding: str  # the value of the BROWSER_COOKIE to set
    ttl: int


def _hash(rt: Runtime, purpose: str, value: str) -> str:
    return keyed_hash(rt.settings.master_key(), purpose, value)


def _state_key(rt: Runtime, state: str) -> str:
    return f"psc:state:{_hash(rt, 'psc-state', state)}"


def _ticket_key(rt: Runtime, ticket: str) -> str:
    return f"psc:ticket:{_hash(rt, 'psc-ticket', ticket)}"


async def _throttle(rt: Runtime, address: str) -> None:
    # Starting logins writes to the key-value store, and callbacks call the provider:
    # both are bounded per client address, like the password login.
    key = f"rate:psc:{address}"
    if await rt.kv.incr(key, ttl=60) > rt.settings.login_rate_per_address:
        raise PscRateLimited(int(await rt.kv.ttl(key) or 60))


async def refuse(error: PscError, *, address: str, account_id: int | None = None) -> None:
    """Write a refusal in the audit trail (the reason only: no code, token nor identity)."""
    outcome = "denied" if isinstance(error, PscRateLimited | PscStateInvalid) else "failure"
    await audit.record(REFUSAL_KIND, account_id=account_id, outcome=outcome, address=address,
                       reason=error.reason)


def tab_binding_of(secret: str) -> str:
    """What the web app sends to /auth/psc/login for its tab's secret: SHA-256, base64url."""
    digest = hashlib.sha256(secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def well_formed_tab_binding(value: object) -> str | None:
    return value if isinstance(value, str) and TAB_BINDING.fullmatch(value) else None


async def start_login(rt: Runtime, *, redirect_uri: str, address: str,
                      tab_binding: str | None) -> LoginStart:
    """`tab_binding`: the web app's `tab_binding_of(secret)`; a login without one (a bare
    link to /auth/psc/login) is refused."""
    s = rt.settings
    provider = _provider(s)
    try:
        await _throttle(rt, address)
    except PscRateLimited as exc:
        await refuse(exc, address=address)
        raise
    tab_binding = well_formed_tab_binding(tab_binding)
    if tab_binding is None:
        error = PscBindingMissing()
        await refuse(error, address=address)
        raise error
    async with _http() as client:
        metadata = await _metadata(provider, client)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = generate_token(64)  # RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~]
    binding = secrets.token_urlsafe(32)
    record = {"nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri,
              "binding": _hash(rt, "psc-binding", binding), "tab_binding": tab_binding}
    await rt.kv.set(_state_key(rt, state), json.dumps(record), ttl=s.psc_state_ttl_seconds)
    url = prepare_grant_uri(
        str(metadata["authorization_endpoint"]), s.psc_client_id, "code",
        redirect_uri=redirect_uri, scope=s.psc_scope, state=state, nonce=nonce,
        acr_values=s.psc_acr, code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return LoginStart(url=url, browser_binding=binding, ttl=s.psc_state_ttl_seconds)


def _param(params: Mapping[str, str], name: str, limit: int = 2048) -> str | None:
    value = params.get(name)
    return value if value and len(value) <= limit else None


async def finish_login(rt: Runtime, *, params: Mapping[str, str], browser_binding: str | None,
                       address: str) -> str:
    """The provider's redirect back: on success, a one-time ticket for `exchange_ticket`;
    every refusal (a PscError) is written in the audit trail first."""
    provider = _provider(rt.settings)
    try:
        return await _finish_login(rt, provider, params=params,
                                   browser_binding=browser_binding, address=address)
    except PscError as exc:
        await refuse(exc, address=address)
        raise


async def _finish_login(rt: Runtime, provider: _Provider, *, params: Mapping[str, str],
                        browser_binding: str | None, address: str) -> str:
    await _throttle(rt, address)
    state = _param(params, "state", 512)
    raw = await rt.kv.getdel(_state_key(rt, state)) if state else None  # one use, atomic
    if raw is None:
        raise PscStateInvalid()
    pending = json.loads(raw)
    if not browser_binding or not secrets.compare_digest(
            pending["binding"], _hash(rt, "psc-binding", browser_binding[:128])):
        # Started in another browser: someone else's callback link (login CSRF).
        raise PscStateInvalid()
    if params.get("error"):
        raise PscDenied()
    code = _param(params, "code")
    if code is None:
        raise PscTokenInvalid("no_code")
    async with _http() as client:
        tokens = await _exchange_code(rt, provider, client, code, pending)
        claims = await _id_token_claims(rt, provider, client, tokens, pending["nonce"])
        national_id = claims.get(NATIONAL_ID_CLAIM)
        if national_id is None:
            national_id = (await _userinfo(provider, client, tokens, claims)).get(
                NATIONAL_ID_CLAIM)
    account = await _professional_account(national_id)
    ticket = secrets.token_urlsafe(32)
    await rt.kv.set(_ticket_key(rt, ticket), json.dumps(
        {"account_id": account.id, "tab_binding": pending["tab_binding"]}),
        ttl=TICKET_TTL_SECONDS)
    return ticket


async def _exchange_code(rt: Runtime, provider: _Provider, client: httpx.AsyncClient,
                         code: str, pending: dict[str, str]) -> dict[str, Any]:
    s = rt.settings
    metadata = await _metadata(provider, client)
    endpoint = str(metadata["token_endpoint"])
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    body = prepare_token_request("authorization_code", code=code,
                                 redirect_uri=pending["redirect_uri"],
                                 code_verifier=pending["verifier"])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    _, headers, body = ClientAuth(s.psc_client_id, s.psc_client_secret, method).prepare(
        "POST", endpoint, headers, body)
    try:
        response = await client.post(endpoint, content=body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("Pro Santé Connect token endpoint unreachable (%s)", type(exc).__name__)
        raise PscUnavailable() from None
    try:
        tokens = response.json()
    except ValueError:
        tokens = None
    if response.status_code != 200 or not isinstance(tokens, dict):
        # A used, expired or unknown code, a wrong verifier or client secret: the error code
        # is the provider's (e.g. invalid_grant), never the code itself.
        error = tokens.get("error") if isinstance(tokens, dict) else None
        log.info("Pro Santé Connect token endpoint refused the code: HTTP %s %s",
                 response.status_code, str(error)[:40] if error else "")
        raise PscTokenInvalid("token_endpoint")
    if not isinstance(tokens.get("id_token"), str) or not isinstance(
            tokens.get("access_token"), str):
        raise PscTokenInvalid("no_id_token")
    if str(tokens.get("token_type", "")).lower() != "bearer":
        raise PscTokenInvalid("token_type")
    return tokens


_CLAIM_REASONS = {"iss": "issuer", "aud": "audience", "exp": "expired", "iat": "issued_at",
                 "nbf": "not_yet_valid", "nonce": "nonce", "acr": "acr", "azp": "audience",
                 "at_hash": "at_hash", "sub": "subject"}


async def _id_token_claims(rt: Runtime, provider: _Provider, client: httpx.AsyncClient,
                           tokens: dict[str, Any], nonce: str) -> dict[str, Any]:
    s = rt.settings
    token = await _verified_jwt(provider, client, tokens["id_token"])
    metadata = await _metadata(provider, client)
    claims = CodeIDToken(
        token.claims, token.header,
        options={
            "iss": {"essential": True, "value": str(metadata["issuer"])},
            "aud": {"essential": True, "value": s.psc_client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True},
            "acr": {"essential": True, "value": s.psc_acr},
        },
        params={"nonce": nonce, "client_id": s.psc_client_id,
                "access_token": tokens["access_token"]},
    )
    try:
        claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
    except ExpiredTokenError:
        raise PscTokenInvalid("expired") from None
    except JoseError as exc:
        claim = str(getattr(exc, "claim", "")).split(",")[0]
        raise PscTokenInvalid(_CLAIM_REASONS.get(claim, "claims")) from None
    audience = claims["aud"]
    # OpenID Connect Core 3.1.3.7: refuse audiences this client does not trust.
    if audience != s.psc_client_id and audience != [s.psc_client_id]:
        raise PscTokenInvalid("audience")
    if not isinstance(claims.get("acr"), str):
        raise PscTokenInvalid("acr")
    return dict(claims)


async def _userinfo(provider: _Provider, client: httpx.AsyncClient, tokens: dict[str, Any],
                    id_claims: dict[str, Any]) -> dict[str, Any]:
    """PSC serves the national id from its userinfo endpoint (JSON, or a signed JWT)."""
    metadata = await _metadata(provider, client)
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        raise PscTokenInvalid("national_id")
    try:
        response = await client.get(str(endpoint), headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "Accept": "application/json, application/jwt"})
    except httpx.HTTPError as exc:
        log.warning("Pro Santé Connect userinfo unreachable (%s)", type(exc).__name__)
        raise PscUnavailable() from None
    if response.status_code != 200:
        raise PscTokenInvalid("userinfo")
    if response.headers.get("content-type", "").split(";")[0].strip() == "application/jwt":
        token = await _verified_jwt(provider, client, response.text.strip())
        info = token.claims
        if "iss" in info and info["iss"] != metadata["issuer"]:
            raise PscTokenInvalid("issuer")
        if "aud" in info and info["aud"] not in (id_claims["aud"], [id_claims["aud"]]):
            raise PscTokenInvalid("audience")
    else:
        try:
            info = response.json()
        except ValueError:
            info = None
        if not isinstance(info, dict):
            raise PscTokenInvalid("userinfo")
    # OpenID Connect Core 5.3.2: the answer must be about the ID token's subject.
    if info.get("sub") != id_claims["sub"]:
        raise PscTokenInvalid("subject")
    return info


def rpps_of(national_id: object) -> str | None:
    """The RPPS in a national id: "8" followed by the 11-digit RPPS number."""
    if not isinstance(national_id, str):
        return None
    rpps = national_id.removeprefix(RPPS_PREFIX)
    if not national_id.startswith(RPPS_PREFIX) or len(rpps) != 11 or not rpps.isdigit():
        return None
    return rpps


async def _professional_account(national_id: object) -> Account:
    rpps = rpps_of(national_id)
    if rpps is None:
        raise PscUnknownProfessional()
    professional = await Professional.get_or_none(rpps=rpps)
    account = None
    if professional is not None:
        account = await Account.filter(professional_id=professional.id,
                                       role=Role.PROFESSIONAL,
                                       status=AccountStatus.ACTIVE).first()
    if account is None:
        raise PscUnknownProfessional()
    return account


def _same_tab(stored: object, secret: str) -> bool:
    if not isinstance(stored, str) or not secret or len(secret) > 128:
        return False
    return secrets.compare_digest(stored.encode(), tab_binding_of(secret).encode())


async def exchange_ticket(rt: Runtime, *, ticket: str, binding: str, address: str,
                          user_agent: str = "") -> tuple[str, SessionRecord]:
    """Trade a callback's one-time ticket for a normal Carnet session (role professional).
    `binding` is the secret of the tab that started the login (`start_login`'s tab_binding
    is its SHA-256); a missing or wrong one is refused like an unknown ticket, and the
    ticket is burnt all the same (one try)."""
    await _throttle(rt, address)
    raw = await rt.kv.getdel(_ticket_key(rt, ticket)) if 20 <= len(ticket) <= 128 else None
    account = None
    if raw is not None:
        stored = json.loads(raw)
        if _same_tab(stored.get("tab_binding"), binding):
            account = await Account.get_or_none(id=stored["account_id"])
    if account is None or account.status is not AccountStatus.ACTIVE or (
            account.role is not Role.PROFESSIONAL):
        error = LoginTicketInvalid()
        await audit.record(REFUSAL_KIND, account_id=account.id if account else None,
                           outcome="failure", address=address, reason=error.reason)
        raise error
    token, record = await session_store(rt).create(
        account_id=account.id, role=account.role.value, address=address,
        user_agent=user_agent, person_id=account.person_id,
        professional_id=account.professional_id,
    )
    await audit.record(AuditKind.LOGIN_SUCCEEDED, account_id=account.id, outcome="success",
                       address=address, session=record.id, reason="psc")
    return token, record
