"""Catalogue apps' access tokens as bearer credentials of the API (issue 14 part 4).

`resolve` is the one bearer resolver of the application (backend/app.py sets it as
`app.state.authenticate`, used by the authentication middleware on every request and by the
GraphQL view for a websocket's connection_init): a person's session first (Redis), then, for a
well-formed token that is no session, an app's access token (one PostgreSQL query joining the
token, its grant, the app's status and the patient's account status: a revoked grant, a
suspended app or a closed account stops the very next request, nothing is cached).

The answer for an app is an `AppCaller` (backend/access/authentication.py): the patient as the
app reaches them, with the granted scopes (the token's, within the grant's). Each use also:
- counts against the app's rate limit (APP_RATE_PER_MINUTE, all its patients together, a
  Redis counter per app and minute): beyond it, `AppRateLimited` (429, Retry-After);
- moves the grant's `last_used_at` (what "Applications connectées" shows), at most once a
  minute per grant, so a busy app does not write on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from backend.access import carers
from backend.access.authentication import AppCaller, AppRateLimited, Caller, resolve_bearer
from backend.catalogue.models import AppStatus
from backend.identity.models import AccountStatus
from backend.identity.services import bearer_token
from backend.oauth import services
from backend.oauth.models import OAuthAccessToken, OAuthGrant
from backend.runtime import Runtime

LAST_USED_INTERVAL = timedelta(minutes=1)
SOCKET_PREFIX = "app-token:"  # AppCaller.session_id: how live sockets name an app's token
RATE_WINDOW_SECONDS = 60


async def app_caller(runtime: Runtime, token: str | None) -> AppCaller | None:
    """The app's caller for a live access token, or None (unknown, expired, revoked...)."""
    now = runtime.clock()
    row = await services.active_access_token(runtime.settings, token, now)
    if row is None:
        return None
    grant = row.grant
    await _count_request(runtime, str(grant.app_id))
    await _touch(grant, now)
    return AppCaller(account_id=grant.account_id, person_id=grant.person_id,
                     app_id=grant.app_id, app_name=grant.app.name,
                     app_scopes=frozenset(s for s in row.scopes if s in grant.scopes),
                     token_id=row.id)


async def _count_request(runtime: Runtime, app_id: str) -> None:
    key = f"rate:app:{app_id}"
    if await runtime.kv.incr(key, ttl=RATE_WINDOW_SECONDS) > runtime.settings.app_rate_per_minute:
        raise AppRateLimited(int(await runtime.kv.ttl(key) or RATE_WINDOW_SECONDS))


async def _touch(grant: OAuthGrant, now: datetime) -> None:
    if grant.last_used_at is not None and grant.last_used_at > now - LAST_USED_INTERVAL:
        return
    await OAuthGrant.filter(id=grant.id).update(last_used_at=now)


async def resolve(runtime: Runtime, header: str | None) -> Caller | None:
    """A person's session, else an app's access token, else None (anonymous)."""
    session = await resolve_bearer(runtime, header)
    if session is not None:
        return session
    return await app_caller(runtime, bearer_token(header))


IsAlive = Callable[[str], Awaitable[bool]]


def socket_liveness(runtime: Runtime, sessions_alive: IsAlive) -> IsAlive:
    """The live sockets' periodic check (backend/live_sockets.py) for every kind of caller: a
    person's socket lives as long as its session; an app's as long as its access token (not
    expired, not revoked, its grant, app and account still good), so a revocation or a
    suspension also closes the app's subscriptions within WS_SESSION_CHECK_SECONDS; a carer's
    socket in someone's space also as long as its delegation (not revoked, not ended)."""

    async def is_alive(session_id: str) -> bool:
        if session_id.startswith(carers.SOCKET_PREFIX):
            grant_id = session_id.removeprefix(carers.SOCKET_PREFIX)
            return grant_id.isdigit() and await carers.grant_alive(int(grant_id),
                                                                   runtime.clock())
        if not session_id.startswith(SOCKET_PREFIX):
            return await sessions_alive(session_id)
        token_id = session_id.removeprefix(SOCKET_PREFIX)
        if not token_id.isdigit():
            return False
        return await OAuthAccessToken.filter(
            id=int(token_id), revoked_at__isnull=True, expires_at__gt=runtime.clock(),
            grant__revoked_at__isnull=True, grant__app__status=AppStatus.REFERENCED,
            grant__account__status=AccountStatus.ACTIVE).exists()

    return is_alive
