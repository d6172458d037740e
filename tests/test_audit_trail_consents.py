"""The security trail of consents and delegations (backend/audit): an app authorised by the
patient's consent (its code exchanged), revoked by the patient (`revokeAppAccess`) or by the
app itself (RFC 7009, a refresh token), revoked because a used code or refresh token came back,
an app suspended or withdrawn by an operator (one event for the app, with its grants' count),
a carer or a legal representative named and a carer revoked. Each event is written once, with
ids, scopes and parts only: never a token, a code, a secret or an email address (a masked
hint at most). Real PostgreSQL (or SQLite) and Redis."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.access import carers
from backend.audit.models import AuditEvent, AuditKind
from backend.catalogue import services as catalogue
from backend.catalogue.models import AppStatus
from backend.identity.lookup import account_by_identifier
from backend.oauth.models import OAuthGrant
from tests.catalogue_helpers import NOW
from tests.test_carers import GRANT, REVOKE
from tests.test_carers import family as family  # noqa: F401 (the fixture)
from tests.test_oauth import REVOKE_URL, TOKEN_URL, code_for, exchange, post
from tests.test_oauth_consent import revoke, tokens_for
from tests.test_oauth_consent import world as world  # noqa: F401 (the fixture)

APP_KINDS = (AuditKind.APP_AUTHORIZED, AuditKind.APP_REVOKED, AuditKind.APP_GRANT_REUSED,
             AuditKind.APP_SUSPENDED, AuditKind.APP_WITHDRAWN)
CARER_KINDS = (AuditKind.CARER_GRANTED, AuditKind.CARER_REVOKED)


async def events(kinds) -> list[AuditEvent]:
    return await AuditEvent.filter(kind__in=list(kinds)).order_by("id")


def holds_none_of(rows: list[AuditEvent], secrets_: list[str]) -> None:
    text = json.dumps([{"detail": r.detail, "address": r.address} for r in rows])
    for value in secrets_:
        assert value not in text
    assert "@example.fr" not in text.replace("b***b@example.fr", "")  # a hint at most


async def alice_account_id() -> int:
    alice = await account_by_identifier("alice@example.fr")
    assert alice is not None
    return alice.id


async def test_consent_and_the_patients_revocation_are_in_the_trail(world):
    tokens = await tokens_for(world, world.confidential, ["profile:read"])
    alice = await alice_account_id()
    grant = await OAuthGrant.get(account_id=alice, app_id=world.confidential.id)
    (authorised,) = await events(APP_KINDS)
    assert authorised.kind is AuditKind.APP_AUTHORIZED and authorised.account_id == alice
    assert authorised.outcome == "success"
    assert authorised.detail == {"app": str(world.confidential.id), "grant": grant.id,
                                 "scopes": ["profile:read"], "reason": "new"}

    # A second consent renews the same grant (its scopes): one more event, "renewed".
    again = await tokens_for(world, world.confidential, ["profile:read"])
    assert [e.detail["reason"] for e in await events(APP_KINDS)] == ["new", "renewed"]

    world.clock.now = NOW + timedelta(seconds=5)
    assert (await revoke(world, str(world.confidential.id)))["__typename"] == "AppAccessRevoked"
    # Nothing left to revoke: a typed refusal, and nothing written.
    assert (await revoke(world, str(world.confidential.id)))["__typename"] == "AppNotConnected"
    rows = await events(APP_KINDS)
    assert [e.kind for e in rows] == [AuditKind.APP_AUTHORIZED] * 2 + [AuditKind.APP_REVOKED]
    assert rows[-1].account_id == alice and rows[-1].outcome == "success"
    assert rows[-1].detail == {"app": str(world.confidential.id), "grant": grant.id,
                               "reason": "patient"}
    holds_none_of(rows, [tokens["access_token"], tokens["refresh_token"],
                         again["access_token"], again["refresh_token"], world.secret])


async def test_the_apps_own_revocation_once_and_not_for_an_access_token(world):
    tokens = await tokens_for(world, world.public, ["profile:read"])
    client = {"client_id": str(world.public.id)}
    # An access token ends alone: the grant goes on, nothing in the trail.
    response = await post(world, REVOKE_URL, {"token": tokens["access_token"], **client})
    assert response.status_code == 200
    assert [e.kind for e in await events(APP_KINDS)] == [AuditKind.APP_AUTHORIZED]
    for _ in range(2):  # the refresh token ends the grant: once
        response = await post(world, REVOKE_URL, {"token": tokens["refresh_token"], **client})
        assert response.status_code == 200
    rows = await events(APP_KINDS)
    assert [e.kind for e in rows] == [AuditKind.APP_AUTHORIZED, AuditKind.APP_REVOKED]
    grant = await OAuthGrant.get(app_id=world.public.id)
    assert rows[-1].account_id == await alice_account_id()
    assert rows[-1].detail == {"app": str(world.public.id), "grant": grant.id, "reason": "app"}
    holds_none_of(rows, [tokens["access_token"], tokens["refresh_token"]])


async def test_a_replayed_code_or_refresh_token_is_in_the_trail_once(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier, scopes=["profile:read"])
    first = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
    assert first.status_code == 200
    for _ in range(2):  # replayed twice: the grant is revoked (and written) once
        replay = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
        assert replay.status_code == 400
    rows = await events(APP_KINDS)
    assert [e.kind for e in rows] == [AuditKind.APP_AUTHORIZED, AuditKind.APP_GRANT_REUSED]
    assert rows[-1].outcome == "denied" and rows[-1].account_id == await alice_account_id()
    assert rows[-1].detail == {"app": str(world.public.id), "grant": rows[0].detail["grant"],
                               "reason": "code_replayed"}

    # A new consent, a refresh rotated, then the old refresh token presented again (twice).
    tokens = await tokens_for(world, world.public, ["profile:read"])
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
               "client_id": str(world.public.id)}
    rotated = await post(world, TOKEN_URL, refresh)
    assert rotated.status_code == 200
    for _ in range(2):
        assert (await post(world, TOKEN_URL, refresh)).status_code == 400
    rows = await events(APP_KINDS)
    assert [e.kind for e in rows] == [AuditKind.APP_AUTHORIZED, AuditKind.APP_GRANT_REUSED,
                                      AuditKind.APP_AUTHORIZED, AuditKind.APP_GRANT_REUSED]
    assert rows[2].detail["reason"] == "new" and rows[2].detail["grant"] != rows[0].detail["grant"]
    assert rows[-1].detail == {"app": str(world.public.id), "grant": rows[2].detail["grant"],
                               "reason": "refresh_reused"}
    holds_none_of(rows, [code, verifier, tokens["access_token"], tokens["refresh_token"],
                         first.json()["refresh_token"], rotated.json()["refresh_token"]])


@pytest.mark.parametrize("status, kind", [(AppStatus.SUSPENDED, AuditKind.APP_SUSPENDED),
                                          (AppStatus.WITHDRAWN, AuditKind.APP_WITHDRAWN)])
async def test_an_operators_suspension_or_withdrawal_is_one_event_for_the_app(world, status,
                                                                             kind):
    await tokens_for(world, world.public, ["profile:read"])
    await tokens_for(world, world.public, ["profile:read"], token=world.bob)
    await tokens_for(world, world.confidential, ["profile:read"])  # another app: not counted
    await catalogue.change_status(str(world.public.id), status, reason="Audit de sécurité",
                                  operator="ops", now=NOW)
    (event,) = await AuditEvent.filter(kind=kind)
    assert event.account_id is None and event.outcome == "success"
    assert event.detail == {"app": str(world.public.id), "grants": 2}  # no operator's text
    if status is AppStatus.SUSPENDED:  # referenced again, then withdrawn: one more event
        await catalogue.change_status(str(world.public.id), AppStatus.REFERENCED,
                                      reason="Corrigé", operator="ops", now=NOW)
        await catalogue.change_status(str(world.public.id), AppStatus.WITHDRAWN,
                                      reason="Fin", operator="ops", now=NOW)
        assert await AuditEvent.filter(kind=AuditKind.APP_SUSPENDED).count() == 1
        assert await AuditEvent.filter(kind=AuditKind.APP_WITHDRAWN).count() == 1


async def test_granting_and_revoking_a_carer_are_in_the_patients_trail(gql, family):
    body = await gql(GRANT, {"e": "bob@example.fr", "p": ["DOCUMENTS", "AGENDA"], "w": True,
                             "end": None}, token=family["alice_token"])
    carer = body["data"]["grantCarer"]
    assert carer["__typename"] == "Carer"
    (granted,) = await events(CARER_KINDS)
    alice = family["alice"].id
    assert granted.kind is AuditKind.CARER_GRANTED and granted.account_id == alice
    assert granted.detail == {"carer_grant": int(carer["id"]), "carer_kind": "carer",
                              "parts": ["documents", "agenda"], "can_write": True,
                              "email_hint": "b***b@example.fr"}
    for _ in range(2):
        await gql(REVOKE, {"id": carer["id"]}, token=family["alice_token"])
    rows = await events(CARER_KINDS)
    assert [e.kind for e in rows] == [AuditKind.CARER_GRANTED, AuditKind.CARER_REVOKED]
    assert rows[-1].account_id == alice
    assert rows[-1].detail == {**granted.detail}
    holds_none_of(rows, ["bob@example.fr"])


async def test_naming_a_legal_representative_is_in_the_childs_trail(family):
    child = family["person"]
    child.birth_date = date(2015, 6, 1)
    await child.save(update_fields=["birth_date"])
    row = await carers.add_representative(child=child, email="bob@example.fr",
                                          now=datetime.now(UTC))
    (granted,) = await events(CARER_KINDS)
    assert granted.kind is AuditKind.CARER_GRANTED
    assert granted.account_id == family["alice"].id  # the child's account
    assert granted.detail == {"carer_grant": row.id, "carer_kind": "representative",
                              "parts": ["documents", "profile", "agenda"], "can_write": True,
                              "email_hint": "b***b@example.fr"}
