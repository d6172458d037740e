"""OAuth 2 rules (issue 14, part 2): client credentials, the patient's authorization, the
token endpoint's grants, revocation, introspection. No strawberry, no Starlette here.

- Client ids are the catalogue app's id (canonical UUID text). A confidential app
  authenticates with its client secret (`create_client_secret`, shown once); a public app with
  its client id alone, and must not send a secret. Only REFERENCED apps authenticate: a
  suspended or withdrawn app gets `invalid_client` at once, and every token check joins the app's
  status, so its tokens stop working at the very next use (no cache). So does the patient's
  account status: a locked or closed account's tokens stop at once.
- `authorize` (the patient's consent, GraphQL) checks the app, the exact redirect URI, the
  scopes (each declared by the app; every non-optional declared one included) and the PKCE
  challenge (S256 only), then stores a code (keyed hash, OAUTH_CODE_SECONDS) and answers the
  redirect URI with `code` and `state`.
- `exchange_code` (grant_type=authorization_code) checks the code is the client's, unexpired,
  for this exact redirect URI, and that S256(code_verifier) is its challenge; claims it with ONE
  conditional UPDATE (single use, even under concurrent exchanges); a code presented again
  revokes the grant it produced (RFC 6749 section 4.1.2). The patient's active grant for the app
  is created or updated with the code's scopes (at most one per patient and app, serialised by
  a lock on the patient's row).
- `refresh` (grant_type=refresh_token) rotates: the presented token is claimed (used_at) and a
  new refresh token and access token are issued; a used refresh token presented again revokes
  the whole grant (reuse detection: a stolen token and its legitimate holder cannot both go on).
- One grant per patient and app: a reuse (of a code or a refresh token) revokes it, so every
  device of the patient using that app must authorise again; so do parallel refreshes of one
  token by a careless client (one wins the claim, the others look like a reuse).
- `active_access_token` is what the API's bearer check of issue 14 part 4 builds on: it joins
  the grant, the app's status and the patient's account status in one query.
- Refusals raise authlib's RFC 6749 errors (`InvalidGrantError`...), rendered by http.py.

Every secret is 256 bits of `secrets.token_urlsafe`, stored as a keyed hash per purpose; a
malformed value is refused before any query. `now` is always the caller's (runtime.clock).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from tortoise.transactions import in_transaction

from backend import live_sockets
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.catalogue import services as catalogue
from backend.catalogue.errors import AppNotFound
from backend.catalogue.models import AppStatus, CatalogueApp, ClientType
from backend.crypto import keyed_hash
from backend.identity.models import Account, AccountStatus, Person
from backend.keys.services import known_master_keys
from backend.oauth.errors import (
    AppNotConnected,
    InvalidCodeChallenge,
    InvalidRedirectUri,
    InvalidScope,
    UnknownApp,
)
from backend.oauth.models import (
    OAuthAccessToken,
    OAuthClientSecret,
    OAuthCode,
    OAuthGrant,
    OAuthRefreshToken,
)
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.broker import Broker

# keyed_hash purposes (names, not secrets)
CLIENT_SECRET = "oauth.client_secret"  # noqa: S105
CODE = "oauth.code"
ACCESS_TOKEN = "oauth.access_token"  # noqa: S105
REFRESH_TOKEN = "oauth.refresh_token"  # noqa: S105
SECRET_BYTES = 32
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 7636 section 4.1 (verifier) and the S256 challenge (43 characters of base64url).
_VERIFIER_SHAPE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
TOKEN_TYPE = "Bearer"  # noqa: S105


def _hash(settings: Settings, purpose: str, value: str) -> str:
    return keyed_hash(settings.master_key(), purpose, value)


def _hashes(settings: Settings, purpose: str, value: str) -> list[str]:
    """The value's hash under every known master key (a rotation breaks no credential)."""
    return [keyed_hash(key, purpose, value) for key in known_master_keys(settings).values()]


def _well_formed(value: str | None) -> bool:
    return bool(value) and _SECRET_SHAPE.fullmatch(value or "") is not None


def scopes_text(scopes: Sequence[str]) -> str:
    return " ".join(scopes)


# --- client credentials ----------------------------------------------------------------------


async def create_client_secret(settings: Settings, app_id: str, *, now: datetime) -> str:
    """A new client secret for a confidential app (any status: an operator may prepare it
    before referencing); its previous one stops working. Returned once, never stored."""
    pk = catalogue.parse_id(app_id)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    async with in_transaction() as conn:
        app = await CatalogueApp.filter(id=pk).select_for_update().using_db(conn).first() \
            if pk else None
        if app is None or app.client_type is not ClientType.CONFIDENTIAL:
            raise AppNotFound()
        await OAuthClientSecret.filter(app_id=app.id, revoked_at__isnull=True) \
            .using_db(conn).update(revoked_at=now)
        await OAuthClientSecret.create(app_id=app.id, created_at=now, using_db=conn,
                                       secret_hash=_hash(settings, CLIENT_SECRET, secret))
    return secret


async def referenced_app(client_id: str | None) -> CatalogueApp | None:
    pk = catalogue.parse_id(client_id or "")
    if pk is None or str(pk) != client_id:
        return None
    return await CatalogueApp.get_or_none(id=pk, status=AppStatus.REFERENCED)


async def authenticate_client(settings: Settings, client_id: str | None,
                              secret: str | None) -> CatalogueApp:
    """The referenced app a token, revocation or introspection request comes from, or
    `invalid_client` (unknown, not referenced, missing or wrong secret, a secret sent by a
    public client)."""
    app = await referenced_app(client_id)
    if app is None:
        raise InvalidClientError(description="unknown or unavailable client")
    if app.client_type is ClientType.PUBLIC:
        if secret is not None:
            raise InvalidClientError(description="a public client has no secret")
        return app
    if not _well_formed(secret):
        raise InvalidClientError(description="client authentication failed")
    assert secret is not None
    known = await OAuthClientSecret.filter(
        app_id=app.id, revoked_at__isnull=True,
        secret_hash__in=_hashes(settings, CLIENT_SECRET, secret)).exists()
    if not known:
        raise InvalidClientError(description="client authentication failed")
    return app


# --- the patient's authorization -------------------------------------------------------------


@dataclass(frozen=True)
class RequestedScope:
    scope: str
    optional: bool


@dataclass(frozen=True)
class AuthorizationRequest:
    app: CatalogueApp
    scopes: list[RequestedScope]


def declared_scopes(app: CatalogueApp) -> dict[str, bool]:
    """scope -> optional, as the app declared them (the catalogue checked the vocabulary)."""
    return {item["scope"]: bool(item.get("optional", False)) for item in app.scopes}


def _check_request(app: CatalogueApp | None, redirect_uri: str) -> CatalogueApp:
    if app is None:
        raise UnknownApp()
    if redirect_uri not in app.redirect_uris:  # exact string match, no normalisation
        raise InvalidRedirectUri()
    return app


async def authorization_request(client_id: str, redirect_uri: str,
                                scopes: Sequence[str] | None) -> AuthorizationRequest:
    """What the consent page shows: the app and each requested scope (none: every declared
    one) with whether the patient may untick it."""
    app = _check_request(await referenced_app(client_id), redirect_uri)
    declared = declared_scopes(app)
    requested = list(dict.fromkeys(scopes)) if scopes else list(declared)
    for scope in requested:
        if scope not in declared:
            raise InvalidScope(scope)
    return AuthorizationRequest(app, [RequestedScope(s, declared[s]) for s in requested])


def _granted_scopes(app: CatalogueApp, scopes: Sequence[str]) -> list[str]:
    declared = declared_scopes(app)
    granted = list(dict.fromkeys(scopes))
    for scope in granted:
        if scope not in declared:
            raise InvalidScope(scope)
    for scope, optional in declared.items():
        if not optional and scope not in granted:
            raise InvalidScope(scope)
    if not granted:
        raise InvalidScope("")
    return granted


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def authorize(settings: Settings, *, account_id: int, person_id: int, client_id: str,
                    redirect_uri: str, scopes: Sequence[str], state: str | None,
                    code_challenge: str, code_challenge_method: str, now: datetime) -> str:
    """The patient allows the app `scopes`: a code for it, and where to send the browser."""
    app = _check_request(await referenced_app(client_id), redirect_uri)
    granted = _granted_scopes(app, scopes)
    if code_challenge_method != "S256" or not _CHALLENGE_SHAPE.fullmatch(code_challenge or ""):
        raise InvalidCodeChallenge()
    code = secrets.token_urlsafe(SECRET_BYTES)
    await OAuthCode.create(
        code_hash=_hash(settings, CODE, code), person_id=person_id, account_id=account_id,
        app_id=app.id, redirect_uri=redirect_uri, scopes=granted, code_challenge=code_challenge,
        created_at=now, expires_at=now + timedelta(seconds=settings.oauth_code_seconds))
    params = {"code": code}
    if state is not None:
        params["state"] = state
    return _with_query(redirect_uri, params)


# --- the token endpoint ----------------------------------------------------------------------


async def _issue(settings: Settings, grant: OAuthGrant, scopes: list[str], now: datetime,
                 conn: Any) -> dict[str, Any]:
    access = secrets.token_urlsafe(SECRET_BYTES)
    refresh_token = secrets.token_urlsafe(SECRET_BYTES)
    await OAuthAccessToken.create(
        token_hash=_hash(settings, ACCESS_TOKEN, access), person_id=grant.person_id,
        grant_id=grant.id, scopes=scopes, created_at=now,
        expires_at=now + timedelta(seconds=settings.oauth_access_token_seconds), using_db=conn)
    await OAuthRefreshToken.create(
        token_hash=_hash(settings, REFRESH_TOKEN, refresh_token), person_id=grant.person_id,
        grant_id=grant.id, scopes=scopes, created_at=now,
        expires_at=now + timedelta(seconds=settings.oauth_refresh_token_seconds), using_db=conn)
    return {"access_token": access, "token_type": TOKEN_TYPE,
            "expires_in": settings.oauth_access_token_seconds, "refresh_token": refresh_token,
            "scope": scopes_text(scopes)}


async def revoke_grant(grant_id: int, now: datetime, conn: Any = None) -> bool:
    """End a grant and every token under it, at once. True when the grant was still active
    (False: already revoked; its tokens are ended anyway)."""
    ended = await OAuthGrant.filter(id=grant_id, revoked_at__isnull=True).using_db(conn) \
        .update(revoked_at=now)
    await OAuthAccessToken.filter(grant_id=grant_id, revoked_at__isnull=True).using_db(conn) \
        .update(revoked_at=now)
    await OAuthRefreshToken.filter(grant_id=grant_id, revoked_at__isnull=True).using_db(conn) \
        .update(revoked_at=now)
    return bool(ended)


async def _revoke_audited(grant: OAuthGrant, now: datetime, kind: AuditKind, *, reason: str,
                          conn: Any = None) -> None:
    """Revoke `grant` and, if it was still active, write it in the patient's security trail
    in the same transaction (once: a second revocation finds it ended). Ids only, never a
    token or a code."""
    if conn is None:
        async with in_transaction() as tx:
            await _revoke_audited(grant, now, kind, reason=reason, conn=tx)
        return
    if await revoke_grant(grant.id, now, conn):
        await audit.record(kind, account_id=grant.account_id,
                           outcome="denied" if kind is AuditKind.APP_GRANT_REUSED else "success",
                           app=str(grant.app_id), grant=grant.id, reason=reason, using_db=conn)


# --- the patient's connected apps ("Applications connectées") --------------------------------


@dataclass(frozen=True)
class ConnectedApp:
    app: CatalogueApp
    scopes: list[str]  # what the patient granted (at their last consent)
    granted_at: datetime  # the first consent
    last_used_at: datetime | None  # the last code exchange, refresh or API call
    in_catalogue: bool  # False: suspended or withdrawn, its tokens do not work meanwhile


async def connected_apps(person_id: int) -> list[ConnectedApp]:
    """The patient's active grants, one per app, by app name. A suspended or withdrawn app's
    grant is listed too (its tokens stop while it is not referenced, but only the patient's
    revocation ends the grant, and the patient must be able to do it)."""
    grants = await OAuthGrant.filter(person_id=person_id, revoked_at__isnull=True) \
        .select_related("app")
    items = [ConnectedApp(app=g.app, scopes=list(g.scopes), granted_at=g.created_at,
                          last_used_at=g.last_used_at,
                          in_catalogue=g.app.status is AppStatus.REFERENCED) for g in grants]
    return sorted(items, key=lambda item: (item.app.name.casefold(), str(item.app.id)))


def app_socket_key(token_id: int) -> str:
    """How live sockets name an app's access token (AppCaller.session_id; bearer.py reads
    the same shape to tell whether the token is still alive)."""
    return f"app-token:{token_id}"


async def revoke_app(person_id: int, app_id: str, now: datetime,
                     broker: Broker | None = None) -> str:
    """The patient revokes an app ("Révoquer"): its grant and every token under it end at
    once, and so do its codes not yet exchanged (one issued just before would otherwise
    open a new grant). Returns the app id; `AppNotConnected` when there is nothing to revoke.

    The codes are claimed first, then the grant looked up: an exchange claims its code and
    writes its grant in one transaction, so either it committed before (its grant is found
    and revoked here) or its claim waits for ours and then finds the code used. Same lock
    order as `exchange_code` (codes, then grants): no deadlock."""
    pk = catalogue.parse_id(app_id)
    if pk is None:
        raise AppNotConnected()
    async with in_transaction() as conn:
        await OAuthCode.filter(person_id=person_id, app_id=pk, used_at__isnull=True) \
            .using_db(conn).update(used_at=now)
        grants = await OAuthGrant.filter(person_id=person_id, app_id=pk,
                                         revoked_at__isnull=True).using_db(conn)
        if not grants:
            raise AppNotConnected()
        tokens = await OAuthAccessToken.filter(
            grant_id__in=[g.id for g in grants], revoked_at__isnull=True,
        ).using_db(conn).values_list("id", flat=True)
        for grant in grants:
            await _revoke_audited(grant, now, AuditKind.APP_REVOKED, reason="patient",
                                  conn=conn)
    if broker is not None:  # its open sockets close at once, in every process
        await live_sockets.announce_revoked(broker, [app_socket_key(t) for t in tokens])
    return str(pk)


async def _account_active(account_id: int) -> bool:
    """A locked or closed patient account stops its apps too."""
    return await Account.filter(id=account_id, status=AccountStatus.ACTIVE).exists()


def _verifier_matches(verifier: str | None, challenge: str) -> bool:
    if not verifier or not _VERIFIER_SHAPE.fullmatch(verifier):
        return False
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


async def exchange_code(settings: Settings, app: CatalogueApp, *, code: str | None,
                        redirect_uri: str | None, code_verifier: str | None,
                        now: datetime) -> dict[str, Any]:
    if not _well_formed(code):
        raise InvalidGrantError(description="invalid authorization code")
    assert code is not None
    row = await OAuthCode.filter(code_hash__in=_hashes(settings, CODE, code)).first()
    if row is None or row.app_id != app.id:
        raise InvalidGrantError(description="invalid authorization code")
    if row.used_at is not None:
        if row.grant_id is not None:  # replayed: what it produced is compromised
            produced = await OAuthGrant.get_or_none(id=row.grant_id)
            if produced is not None:
                await _revoke_audited(produced, now, AuditKind.APP_GRANT_REUSED,
                                      reason="code_replayed")
        raise InvalidGrantError(description="invalid authorization code")
    if row.expires_at <= now:
        raise InvalidGrantError(description="invalid authorization code")
    if redirect_uri != row.redirect_uri:
        raise InvalidGrantError(description="redirect_uri does not match")
    if not _verifier_matches(code_verifier, row.code_challenge):
        raise InvalidGrantError(description="code_verifier does not match")
    if not await _account_active(row.account_id):
        raise InvalidGrantError(description="invalid authorization code")
    async with in_transaction() as conn:
        claimed = await OAuthCode.filter(id=row.id, used_at__isnull=True).using_db(conn) \
            .update(used_at=now)
        if not claimed:  # a concurrent exchange won
            raise InvalidGrantError(description="invalid authorization code")
        # Serialises the patient's grants (no-op on SQLite, whose writers are serial).
        await Person.filter(id=row.person_id).select_for_update(no_key=True).using_db(conn) \
            .first()
        grant = await OAuthGrant.filter(person_id=row.person_id, app_id=app.id,
                                        revoked_at__isnull=True).using_db(conn).first()
        renewed = grant is not None
        if grant is None:
            grant = await OAuthGrant.create(
                person_id=row.person_id, account_id=row.account_id, app_id=app.id,
                scopes=row.scopes, created_at=now, updated_at=now, last_used_at=now,
                using_db=conn)
        else:
            grant.scopes, grant.updated_at, grant.last_used_at = row.scopes, now, now
            await grant.save(using_db=conn, update_fields=["scopes", "updated_at",
                                                           "last_used_at"])
        await OAuthCode.filter(id=row.id).using_db(conn).update(grant_id=grant.id)
        # The patient's consent opened (or renewed) the grant: in their security trail.
        await audit.record(AuditKind.APP_AUTHORIZED, account_id=row.account_id,
                           outcome="success", app=str(app.id), grant=grant.id,
                           scopes=list(row.scopes), reason="renewed" if renewed else "new",
                           using_db=conn)
        return await _issue(settings, grant, list(row.scopes), now, conn)


async def refresh(settings: Settings, app: CatalogueApp, *, refresh_token: str | None,
                  scope: str | None, now: datetime) -> dict[str, Any]:
    if not _well_formed(refresh_token):
        raise InvalidGrantError(description="invalid refresh token")
    assert refresh_token is not None
    row = await OAuthRefreshToken.filter(
        token_hash__in=_hashes(settings, REFRESH_TOKEN, refresh_token)) \
        .select_related("grant").first()
    if row is None or row.grant.app_id != app.id:
        raise InvalidGrantError(description="invalid refresh token")
    if row.used_at is not None:  # reuse: revoke everything this grant holds
        await _revoke_audited(row.grant, now, AuditKind.APP_GRANT_REUSED,
                              reason="refresh_reused")
        raise InvalidGrantError(description="invalid refresh token")
    if row.revoked_at is not None or row.grant.revoked_at is not None or row.expires_at <= now \
            or not await _account_active(row.grant.account_id):
        raise InvalidGrantError(description="invalid refresh token")
    allowed = [s for s in row.scopes if s in row.grant.scopes]
    if scope is not None:
        wanted = list(dict.fromkeys(scope.split()))
        if not wanted or any(s not in allowed for s in wanted):
            raise InvalidScopeError(description="scope exceeds the grant")
        allowed = wanted
    async with in_transaction() as conn:
        claimed = await OAuthRefreshToken.filter(id=row.id, used_at__isnull=True) \
            .using_db(conn).update(used_at=now)
        if not claimed:
            raise InvalidGrantError(description="invalid refresh token")
        await OAuthGrant.filter(id=row.grant_id).using_db(conn).update(last_used_at=now)
        # (a concurrent second use loses the claim and is refused; a later one is a reuse)
        return await _issue(settings, row.grant, allowed, now, conn)


def require_single(values: dict[str, list[str]], name: str) -> str | None:
    """A form parameter that must not repeat (RFC 6749 section 3.2)."""
    found = values.get(name, [])
    if len(found) > 1:
        raise InvalidRequestError(description=f"repeated parameter {name}")
    return found[0] if found else None


# --- token checks: introspection, revocation, and later the API's bearer tokens --------------


async def active_access_token(settings: Settings, token: str | None,
                              now: datetime) -> OAuthAccessToken | None:
    """The live access token, with its grant and app, or None (malformed, unknown, expired,
    revoked, grant revoked, or app no longer referenced: all alike)."""
    if not _well_formed(token):
        return None
    assert token is not None
    return await OAuthAccessToken.filter(
        token_hash__in=_hashes(settings, ACCESS_TOKEN, token), revoked_at__isnull=True,
        expires_at__gt=now, grant__revoked_at__isnull=True,
        grant__app__status=AppStatus.REFERENCED,
        grant__account__status=AccountStatus.ACTIVE).select_related("grant__app").first()


async def active_refresh_token(settings: Settings, token: str | None,
                               now: datetime) -> OAuthRefreshToken | None:
    if not _well_formed(token):
        return None
    assert token is not None
    return await OAuthRefreshToken.filter(
        token_hash__in=_hashes(settings, REFRESH_TOKEN, token), revoked_at__isnull=True,
        used_at__isnull=True, expires_at__gt=now, grant__revoked_at__isnull=True,
        grant__app__status=AppStatus.REFERENCED,
        grant__account__status=AccountStatus.ACTIVE).select_related("grant__app").first()


def _effective_scopes(row: OAuthAccessToken | OAuthRefreshToken) -> list[str]:
    return [s for s in row.scopes if s in row.grant.scopes]


async def introspect(settings: Settings, client: CatalogueApp, token: str | None,
                     hint: str | None, now: datetime) -> dict[str, Any]:
    """RFC 7662: a client learns about its own tokens only; anything else is inactive."""
    finders = [active_access_token, active_refresh_token]
    if hint == "refresh_token":
        finders.reverse()
    for finder in finders:
        row = await finder(settings, token, now)
        if row is not None and row.grant.app_id == client.id:
            return {"active": True, "client_id": str(client.id),
                    "scope": scopes_text(_effective_scopes(row)),
                    "token_type": TOKEN_TYPE if isinstance(row, OAuthAccessToken)
                    else "refresh_token",
                    "exp": int(row.expires_at.timestamp()),
                    "iat": int(row.created_at.timestamp())}
    return {"active": False}


async def revoke(settings: Settings, client: CatalogueApp, token: str | None,
                 hint: str | None, now: datetime) -> None:
    """RFC 7009: an access token ends alone; a refresh token ends its grant (every access
    token based on it, section 2.1). Unknown tokens, or another client's, change nothing."""
    if not _well_formed(token):
        return
    assert token is not None
    kinds = [(OAuthAccessToken, ACCESS_TOKEN), (OAuthRefreshToken, REFRESH_TOKEN)]
    if hint == "refresh_token":
        kinds.reverse()
    for model, purpose in kinds:
        row = await model.filter(token_hash__in=_hashes(settings, purpose, token)) \
            .select_related("grant").first()
        if row is None:
            continue
        if row.grant.app_id != client.id:
            return
        if isinstance(row, OAuthRefreshToken):  # the app ends its own grant
            await _revoke_audited(row.grant, now, AuditKind.APP_REVOKED, reason="app")
        else:
            await OAuthAccessToken.filter(id=row.id, revoked_at__isnull=True) \
                .update(revoked_at=now)
        return


# --- housekeeping ------------------------------------------------------------------------------

# Expired credentials are kept this long after their expiry (a late replay of a code or a
# refresh token is still recognised as one, and revokes its grant), then deleted.
PURGE_GRACE = timedelta(days=1)


async def purge_expired(now: datetime, *, batch: int = 1000) -> int:
    """Delete codes and tokens expired for more than PURGE_GRACE, `batch` rows per table and
    statement; returns how many went. Idempotent (a periodic job; run it until it returns 0).
    Grants stay: a revoked one is the history "Applications connectées" and the audit need."""
    cutoff = now - PURGE_GRACE
    removed = 0
    for model in (OAuthCode, OAuthAccessToken, OAuthRefreshToken):
        ids = await model.filter(expires_at__lt=cutoff).order_by("id").limit(batch) \
            .values_list("id", flat=True)
        if ids:
            removed += await model.filter(id__in=list(ids)).delete()
    return removed
