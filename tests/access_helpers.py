"""Setup shared by the access tests: the seeded matrix, professionals of a given profession,
documents and profile entries written straight through the services."""

from __future__ import annotations

import importlib.util
import itertools
import random
from datetime import UTC, date, datetime
from pathlib import Path

from backend.access import services as access
from backend.identity import accounts
from backend.identity.models import Account, Person
from backend.profile import services as profile
from backend.records import services as records
from backend.records.models import DocumentSource, Visibility

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_seq = itertools.count(1)


def migration_matrix() -> list[tuple]:
    """The matrix the access migration seeds (found by content: the lead renumbers it)."""
    [path] = [p for p in (ROOT / "backend" / "migrations").glob("*.py")
              if "async def seed_matrix" in p.read_text()]
    spec = importlib.util.spec_from_file_location("access_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MATRIX


async def seed_matrix() -> None:
    """The tests' `clean` empties every table: put the migration's matrix back."""
    for profession, specialty, types, sections, emergency in migration_matrix():
        await access.set_rule(profession=profession, specialty=specialty, document_types=types,
                              sections=sections, emergency=emergency)


async def make_professional(profession: str = "Médecin", specialty: str | None = None, *,
                            email: str | None = None) -> Account:
    n = next(_seq)
    rpps = f"{10_000_000_000 + random.randint(0, 89_999_999_999):011d}"
    account, _ = await accounts.create_professional(
        rpps=rpps, profession=profession, specialty=specialty,
        contact=accounts.ContactInput(email=email or f"access-pro{n}@example.fr", phone=None,
                                      identifier=None, password="correct horse battery"))
    return account


async def store(rt, person_id: int, *, type_code: str = "11488-4", title: str = "CR",
                author: Account | None = None, visibility: Visibility = Visibility.NORMAL,
                release_at: datetime | None = None):
    """A document in the patient's record, by the patient or by `author` (a professional)."""
    n = next(_seq)
    data = records.DocumentInput(title, type_code, date(2026, 1, 5), visibility, release_at)
    who = (records.Author(author.id, author.professional_id) if author
           else records.Author(0, None))
    return await records.store_document(
        rt, person_id=person_id, author=who,
        source=DocumentSource.PROFESSIONAL_SOFTWARE if author else DocumentSource.PATIENT_UPLOAD,
        data=data, chunks=records.bytes_chunks(PDF + f"{n}".encode()))


async def add_allergy(rt, person_id: int, substance: str = "Pénicilline"):
    return await profile.add_entry(rt.settings, person_id=person_id,
                                   author=profile.Author(0, None),
                                   data=profile.AllergyInput(substance=substance))


async def add_treatment(rt, person_id: int, medication: str = "Metformine"):
    return await profile.add_entry(rt.settings, person_id=person_id,
                                   author=profile.Author(0, None),
                                   data=profile.TreatmentInput(medication=medication))


async def identity_of(account: Account) -> dict:
    person = await Person.get(id=account.person_id)
    return {"insMatricule": person.matricule, "birthName": person.birth_name,
            "birthDate": person.birth_date.isoformat()}


def now() -> datetime:
    return datetime.now(UTC)
