"""Demo data for `carnet dev`: complete enough to explore, and idempotent."""

from __future__ import annotations

from backend.demo import DEMO_LOGINS, seed_demo
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account
from backend.messaging.models import Conversation
from backend.records.models import Document


async def test_seed_demo_twice_creates_everything_once(migrated, clean):
    first = await seed_demo(migrated)
    assert first["accountsCreated"] == 2 and first["documentsCreated"] == 1
    assert first["conversationsCreated"] == 1 and first["announcementsCreated"] == 2
    second = await seed_demo(migrated)
    assert {k: v for k, v in second.items() if k != "logins"} == {
        "announcementsCreated": 0, "accountsCreated": 0, "documentsCreated": 0,
        "conversationsCreated": 0}
    assert all([await account_by_identifier(login) for login in DEMO_LOGINS])
    assert await Account.all().count() == 2
    assert await Document.all().count() == 1 and await Conversation.all().count() == 1
