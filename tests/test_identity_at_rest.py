"""Identity data at rest (issue 9, items 10 and 11): a database dump and the Redis records of
pending codes show no identity data; lookups go through blind indexes and survive a key
rotation; FHIR Patient ids are random."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import date

import pytest
import redis.asyncio as aioredis

from backend.crypto import Keyring, master_key_id, using_keyring
from backend.identity import accounts, matching, services
from backend.identity.lookup import account_by_identifier, person_by_matricule
from backend.identity.models import Account, Person
from backend.keys import cli as keys_cli
from backend.keys.services import MasterKeyMissing
from backend.runtime import Runtime
from backend.settings import decode_master_key, generate_master_key
from tests.conftest import MASTER_KEY, REDIS_PREFIX
from tests.factories import PASSWORD
from tests.identity_helpers import code_from, sign_in

NIR = "2 55 08 14 168 025 38"
NIR_CLEAR = "255081416802538"
BIRTH_NAME = "QUINTARDELLE"
FIRST_NAMES = "Aurélienne Maud"
EMAIL = "aurelienne.quintardelle@exemple-sante.fr"
PHONE = "+33 6 12 34 56 78"
PHONE_E164 = "+33612345678"
IDENTIFIER = "Aurelienne-Login"
BIRTH_DATE = date(1955, 8, 14)
NEW_EMAIL = "maud.nouvelle-adresse@exemple-sante.fr"


async def _create() -> Account:
    return await accounts.create_patient(
        nir=NIR, birth_name=BIRTH_NAME, first_names=FIRST_NAMES, birth_date=BIRTH_DATE,
        sex="F", birthplace="14168",
        contact=accounts.ContactInput(email=EMAIL, phone=PHONE, identifier=IDENTIFIER,
                                      password=PASSWORD))


def _pg_dump(url: str) -> str:
    result = subprocess.run(["pg_dump", "--no-owner", url], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _forbidden() -> list[str]:
    return [
        NIR_CLEAR, NIR, BIRTH_NAME, BIRTH_NAME.lower(), "Quintardelle", "Aurélienne",
        "Aurelienne", EMAIL, EMAIL.split("@")[0], PHONE_E164, PHONE_E164[1:], "612345678",
        IDENTIFIER, IDENTIFIER.casefold(), "1955-08-14", "14/08/1955", "14.08.1955", "19550814",
        NEW_EMAIL, "nouvelle-adresse",
    ]


async def test_a_database_dump_and_pending_codes_show_no_identity_data(
        app, settings, notifier, clean):
    rt = Runtime(settings.model_copy(update={"login_rate_per_address": 1000}),
                 app.state.runtime.kv, app.state.runtime.broker, notifier)
    account = await _create()
    caller = services.Caller(address="192.0.2.77")
    # Pending codes: a login code (to the e-mail), a contact change (to a new address).
    login = await services.start_login(rt, identifier=IDENTIFIER, password=PASSWORD,
                                       channel=None, caller=caller)
    viewer = services.Viewer(account_id=account.id, role="patient", session_id="s",
                             person_id=account.person_id)
    await services.request_contact_change(rt, viewer, current_password=PASSWORD,
                                          email=NEW_EMAIL, phone=None, caller=caller)
    dump = await asyncio.to_thread(_pg_dump, settings.database_url)
    assert "COPY public.person" in dump and "COPY public.account" in dump
    lowered = dump.casefold()
    leaks = [value for value in _forbidden() if value.casefold() in lowered]
    assert leaks == [], f"identity data in clear in the dump: {leaks}"
    # The 5-digit birthplace code, as a value of its own (not inside hex ciphertext).
    assert not re.search(r"(?<![0-9a-f])14168(?![0-9a-f])", lowered)

    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        records_text = ""
        async for key in client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000):
            kind = await client.type(key)
            if kind == b"string":
                records_text += f"{key!r} {await client.get(key)!r}\n"
            elif kind == b"set":
                records_text += f"{key!r} {await client.smembers(key)!r}\n"
            else:
                records_text += f"{key!r}\n"
    finally:
        await client.aclose()
    assert "otp:meta:" in records_text  # the records were found
    leaks = [value for value in _forbidden() if value.casefold() in records_text.casefold()]
    assert leaks == [], f"identity data in clear in Redis: {leaks}"

    # And everything still works: the challenge knows its destination, the code signs in.
    challenge = await services.code_store(rt).get(login.id)
    assert challenge is not None and challenge.destination == EMAIL
    code = code_from(notifier.last(to=EMAIL).text)
    _, record = await services.verify_login(rt, challenge_id=login.id, code=code, caller=caller)
    assert record.account_id == account.id


async def test_lookups_go_through_blind_indexes(app, gql, notifier, clean):
    account = await _create()
    person = await Person.get(id=account.person_id)
    assert (person.matricule, person.birth_name, person.first_names, person.birth_date,
            person.birthplace_code) == (NIR_CLEAR, BIRTH_NAME, FIRST_NAMES, BIRTH_DATE, "14168")
    assert (account.identifier, account.email, account.phone) == (IDENTIFIER, EMAIL, PHONE_E164)
    # Login by identifier, whatever its case and surrounding spaces.
    assert (await account_by_identifier("  aurelienne-LOGIN ")).id == account.id
    assert await sign_in(gql, notifier, "AURELIENNE-login", PASSWORD)
    # Find by matricule, with or without spaces (the records' identity match uses it).
    assert (await person_by_matricule(NIR)).id == person.id
    match = await matching.find_patient(
        app.state.runtime, matching.Requester(account_id=0, professional_id=0, purpose="deposit"),
        matching.PatientClaim(NIR_CLEAR, BIRTH_NAME, BIRTH_DATE))
    assert match.person.id == person.id
    assert await person_by_matricule("1 85 05 2A 004 123 56") is None
    # Unique identifiers and NIRs are still enforced.
    with pytest.raises(accounts.AccountConflict):
        await accounts.create_patient(
            nir="1 80 13 99 135 001 87", birth_name="AUTRE", first_names="Paul",
            birth_date=date(1980, 1, 1), sex="M", birthplace="99135",
            contact=accounts.ContactInput(email="autre@example.fr", phone=None,
                                          identifier="aurelienne-login", password=PASSWORD))
    with pytest.raises(accounts.AccountConflict):
        await accounts.create_patient(
            nir=NIR, birth_name="AUTRE", first_names="Paul", birth_date=date(1980, 1, 1),
            sex="F", birthplace="14168",
            contact=accounts.ContactInput(email="autre@example.fr", phone=None,
                                          identifier=None, password=PASSWORD))
    # A changed contact is re-sealed and re-indexed on save.
    account.email = NEW_EMAIL
    await account.save()
    from backend.identity.lookup import accounts_by_email

    assert [a.id for a in await accounts_by_email(NEW_EMAIL.upper())] == [account.id]
    assert await accounts_by_email(EMAIL) == []


async def test_rotation_reseals_identity_rows_and_lookups_follow(settings, clean):
    old, new = decode_master_key(MASTER_KEY), generate_master_key()
    new_key = decode_master_key(new)
    account = await _create()
    result = await keys_cli.rotate_command(settings, new)
    assert result["resealed"] == 2  # the person and the account
    assert set(await Person.all().values_list("key_id", flat=True)) == {master_key_id(new_key)}
    assert set(await Account.all().values_list("key_id", flat=True)) == {master_key_id(new_key)}

    # After the switch (new key current, old one previous), and once the old key is dropped.
    for ring in (Keyring(new_key, [old]), Keyring(new_key)):
        with using_keyring(ring):
            person = await person_by_matricule(NIR)
            assert person is not None and person.birth_name == BIRTH_NAME
            assert person.birth_date == BIRTH_DATE
            found = await account_by_identifier(IDENTIFIER)
            assert found is not None and found.id == account.id and found.email == EMAIL

    # A process still on the old key writes a row meanwhile: found, then caught up.
    with using_keyring(Keyring(old)):
        late = await accounts.create_patient(
            nir="1 80 13 99 135 001 87", birth_name="TARDIF", first_names="Paul",
            birth_date=date(1980, 1, 1), sex="M", birthplace="99135",
            contact=accounts.ContactInput(email="tardif@example.fr", phone=None,
                                          identifier=None, password=PASSWORD))
    switched = settings.model_copy(update={"carnet_master_key": new,
                                           "carnet_previous_master_keys": [MASTER_KEY]})
    with using_keyring(Keyring(new_key, [old])):
        assert (await account_by_identifier("tardif@example.fr")).id == late.id
        assert (await keys_cli.rotate_command(switched, new))["resealed"] == 2
        assert (await keys_cli.rotate_command(switched, new))["resealed"] == 0  # idempotent
    with using_keyring(Keyring(new_key)):
        assert (await person_by_matricule("180139913500187")).birth_name == "TARDIF"

    # A key that opens nothing here: refused before anything is written.
    stranger = settings.model_copy(update={"carnet_master_key": generate_master_key(),
                                           "carnet_previous_master_keys": []})
    with pytest.raises(MasterKeyMissing):
        await keys_cli.rotate_command(stranger, generate_master_key())
    assert set(await Person.all().values_list("key_id", flat=True)) == {master_key_id(new_key)}


async def test_fhir_patient_ids_are_random_public_uuids(app, client, gql, notifier, clean):
    account = await _create()
    person = await Person.get(id=account.person_id)
    token = await sign_in(gql, notifier, IDENTIFIER, PASSWORD)
    fhir_id = (await gql("query { profile { fhirPatientId } }",
                         token=token))["data"]["profile"]["fhirPatientId"]
    assert fhir_id == str(person.public_id) and uuid.UUID(fhir_id).version == 4
    headers = {"Authorization": f"Bearer {token}"}
    old_style = uuid.uuid5(uuid.UUID("4f3c1f1e-8a59-5c8e-9d3a-6b1e2c0a7d41"),
                           f"person:{person.id}")
    assert (await client.get(f"/fhir/r4/Patient/{old_style}/$everything",
                             headers=headers)).status_code == 404
    response = await client.get(f"/fhir/r4/Patient/{fhir_id}/$everything", headers=headers)
    assert response.status_code == 200
    patients = [e["resource"] for e in response.json()["entry"]
                if e["resource"]["resourceType"] == "Patient"]
    assert [p["id"] for p in patients] == [fhir_id]
    other = await accounts.create_patient(
        nir="1 80 13 99 135 001 87", birth_name="AUTRE", first_names="Paul",
        birth_date=date(1980, 1, 1), sex="M", birthplace="99135",
        contact=accounts.ContactInput(email="autre@example.fr", phone=None, identifier=None,
                                      password=PASSWORD))
    other_person = await Person.get(id=other.person_id)
    assert other_person.public_id != person.public_id
