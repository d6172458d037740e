"""The attack matrix (issue 10, item 10): every GraphQL field and mutation that takes an id, and
every FHIR/HTTP read, called by four attackers with a real object of the victim and with a
random missing id: each answer must be identical (ids echoed back normalised away).

Attackers: an unrelated patient, an unrelated professional, a professional the victim blocked
after adding them to her care team (the block wins), and a professional in her care team whose
profession the matrix excludes (osteopath). The operations are generated from the built schema
(tests/attack_matrix.py); the table below is the only hand-written part: which of the victim's
objects goes in each id slot. A new id-taking field the table does not name fails
`test_every_id_slot_is_in_the_table`, so nobody adds an unchecked field silently.

Each case also runs as the object's legitimate reader (the victim, or her doctor for
`patientRecord`): there the answers must DIFFER, which proves the case reaches the object (a
placeholder argument rejected by validation would make the comparison vacuous). Mutations get
fresh targets per case and run missing id first, then the real one: both must fail alike, so
nothing changes; the owner's run comes last. Subscriptions taking an id are called over the
app's websocket route with graphql-transport-ws (in process, tests/attack_matrix.AsgiWebSocket):
the first answer is compared, and the owner's subscription must receive an event published
after subscribing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote

import pytest
from starlette.routing import Route

from backend.access import policy
from backend.agenda import services as agenda
from backend.identity.models import Person, Professional
from backend.messaging.models import Conversation
from backend.messaging.services import encode_cursor
from backend.schema import build_schema
from tests.access_helpers import identity_of, make_professional, seed_matrix, store
from tests.attack_matrix import (
    Operation,
    Unbuildable,
    build,
    first_answer,
    missing_like,
    normalise,
    operations,
    placeholder,
    subscribed,
)
from tests.factories import PASSWORD, create_patient, make_nir
from tests.identity_helpers import sign_in
from tests.messaging_helpers import START

SCHEMA = build_schema()._schema
ATTACKERS = ("unrelated_patient", "unrelated_professional", "blocked_professional",
             "excluded_professional")


@dataclass(frozen=True)
class Case:
    """Whose object goes in a slot. `target`: a factory of the victim's objects (fresh per case);
    `owner`: who legitimately reads it; `args`: other arguments of the field, from the caller's
    own context; `same_by_design`: the owner's answer is the same for real and missing ids too
    (the documented contract of the field), so only the attackers are compared. `publish`
    (subscriptions): a factory that makes the target emit an event once the owner subscribed,
    returning a text the owner's first event must carry."""

    target: str
    owner: str = "victim"
    args: dict[str, str] = field(default_factory=dict)
    same_by_design: bool = False
    publish: str | None = None


PROFILE_KINDS = ("Allergy", "Vaccination", "MedicalHistory", "FamilyHistory", "Treatment",
                 "Measurement", "EmergencyContact")

# (field, slot) -> Case, or a string: why the slot is not compared here.
TABLE: dict[tuple[str, str], Case | str] = {
    ("Query.document", "id"): Case("document"),
    ("Query.documents", "filter.authorProfessionalId"): Case("victim_author"),
    ("Query.conversation", "id"): Case("conversation"),
    ("Query.messages", "conversationId"): Case("conversation"),
    ("Query.announcement", "id"): "announcements are public: every published one is readable "
                                  "by anyone, none belongs to a patient",
    ("Query.catalogueApp", "id"): "the catalogue is public: every referenced app is readable by "
                                  "anyone, none belongs to a patient (others answer null, "
                                  "tests/test_catalogue.py)",
    # OAuth (issue 14 part 2): a client id names a referenced app, public like the catalogue;
    # the code and grant belong to the signed-in patient alone (tests/test_oauth.py: unknown
    # and non-referenced apps answer UnknownApp alike, professionals are refused).
    ("Query.appAuthorizationRequest", "clientId"): "a client id names a public, referenced "
                                                   "app, none belongs to a patient "
                                                   "(tests/test_oauth.py)",
    ("Mutation.authorizeApp", "clientId"): "a client id names a public, referenced app; the "
                                           "code is the caller's own (tests/test_oauth.py)",
    ("Mutation.revokeAppAccess", "appId"): "an app id names a public, referenced app; only the "
                                           "caller's own grant of it is revoked, anything else "
                                           "answers AppNotConnected (tests/test_oauth_consent.py)",
    # Carers (issue 15 part 8): a grant id is looked up among the caller's own grants only.
    ("Mutation.revokeCarer", "id"): "looked up among the caller's own carers only: another "
                                    "patient's grant and an unknown id answer CarerNotFound "
                                    "alike (tests/test_carers.py)",
    ("Query.patientRecord", "patientId"): Case("patient", owner="doctor"),
    ("PatientRecord.document", "id"): Case("document", owner="doctor"),
    ("PatientRecord.documents", "filter.authorProfessionalId"): Case("victim_author",
                                                                      owner="doctor"),
    ("Mutation.revokeSession", "id"): Case("session"),
    ("Mutation.renameDocument", "id"): Case("document"),
    ("Mutation.updateDocument", "id"): Case("document"),
    ("Mutation.setDocumentHidden", "id"): Case("document"),
    ("Mutation.deleteDocument", "id"): Case("document"),
    ("Mutation.startConversation", "input.attachmentIds"): Case("document_by_doctor",
                                                                owner="doctor"),
    ("Mutation.sendMessage", "conversationId"): Case("conversation"),
    ("Mutation.sendMessage", "attachmentIds"): Case(
        "document", args={"conversationId": "home_conversation"}),
    ("Mutation.markRead", "conversationId"): Case("conversation"),
    ("Mutation.blockProfessional", "professionalId"): Case("care_team_member",
                                                           same_by_design=True),
    ("Mutation.unblockProfessional", "professionalId"): Case("care_team_member",
                                                             same_by_design=True),
    ("Mutation.setAdvanceDirective", "input.documentId"): Case("document"),
    ("Mutation.removeFromCareTeam", "professionalId"): Case("care_team_member"),
    ("Mutation.restrictProfessionalAccess", "professionalId"): Case("care_team_member"),
    # Subscriptions run over graphql-transport-ws (test_subscriptions_...), `after` once
    # omitted and once from the very first message (a leak would replay the history).
    ("Subscription.messageAdded", "conversationId"): Case(
        "conversation", args={"after": "cursor"}, publish="message"),
    ("Subscription.announcementAdded", "after"): "announcements are public: every published "
                                                 "one is sent to anyone, none belongs to a "
                                                 "patient",
    # The agenda: the victim's own entry, her booking of her doctor's slot, an appointment her
    # doctor set; a slot is the doctor's (withdrawn only by them).
    ("Query.appointment", "id"): Case("appointment"),
    ("Mutation.updateAppointment", "id"): Case("appointment"),
    ("Mutation.cancelAppointment", "id"): Case("appointment"),
    ("Mutation.rescheduleAppointment", "id"): Case("booking", args={"slotId": "free_slot"}),
    ("Mutation.moveAppointment", "id"): Case("doctor_appointment", owner="doctor"),
    ("Mutation.scheduleAppointment", "patientId"): Case("patient", owner="doctor"),
    ("Mutation.cancelSlot", "slotId"): Case("slot", owner="doctor"),
    ("Mutation.bookSlot", "slotId"): "slots are public by design: any signed-in patient may "
                                     "book any professional's free slot; a slot names no "
                                     "patient",
    ("Mutation.rescheduleAppointment", "slotId"): "slots are public by design (see bookSlot); "
                                                  "the appointment moved is checked by the "
                                                  "`id` case",
    ("Query.freeSlots", "professionalId"): "professionals' free slots are searchable by "
                                           "anyone signed in (backend/agenda/services.py)",
    **{(f"Mutation.{verb}{kind}", "id"): Case(f"entry:add{kind}")
       for kind in PROFILE_KINDS for verb in ("update", "delete")},
}
# Arguments of enclosing fields, from the caller's own context: a professional opens the record
# of a patient they do treat, then asks it for the victim's document.
PARENT_ARGS = {"Query.patientRecord": {"patientId": "home_patient"}}


@dataclass
class Caller:
    name: str
    token: str
    context: dict[str, object]  # home_patient, home_identity, home_conversation


def overrides(caller: Caller) -> dict[tuple[str, str], object]:
    """Input fields whose placeholder would be refused before the id is even looked at."""
    return {("MeasurementInput", "value"): 70.0, ("MeasurementInput", "kind"): "WEIGHT",
            ("EmergencyContactInput", "phone"): "0612345678",
            ("StartConversationInput", "patient"): caller.context["home_identity"],
            ("AppointmentInput", "end"): "2024-01-02T11:00:00+00:00",
            ("ScheduleAppointmentInput", "end"): "2024-01-02T11:00:00+00:00"}


ADD = """mutation Add($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename
  ... on CareTeamMember { professional { id } } } }"""
BLOCK = """mutation B($id: ID!) { blockProfessional(professionalId: $id) { __typename } }"""
SESSIONS = "{ mySessions { id current } }"
SEND = """mutation Send($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) {
  __typename } }"""


async def _rpps(account) -> str:
    return (await Professional.get(id=account.professional_id)).rpps


@pytest.fixture
async def world(app, gql, notifier, clean):
    """The victim and her doctor; a neighbour patient who treats with the three attacking
    professionals; conversations for each side."""
    await seed_matrix()
    rt = app.state.runtime

    async def patient(email):
        account = await create_patient(email=email)
        return account, await sign_in(gql, notifier, email, PASSWORD)

    async def professional(email, profession="Médecin", specialty=None):
        account = await make_professional(profession, specialty, email=email)
        return account, await sign_in(gql, notifier, email, PASSWORD)

    victim, victim_token = await patient("victim@example.fr")
    neighbour, neighbour_token = await patient("neighbour@example.fr")
    doctor, doctor_token = await professional("doctor@example.fr", specialty="Médecine générale")
    stranger, stranger_token = await professional("stranger@example.fr")
    blocked, blocked_token = await professional("blocked@example.fr")
    osteo, osteo_token = await professional("osteo@example.fr", "Ostéopathe")

    async def add(token, account):
        body = await gql(ADD, {"rpps": await _rpps(account)}, token=token)
        assert body["data"]["addToCareTeam"]["__typename"] == "CareTeamMember", body
        return body["data"]["addToCareTeam"]["professional"]["id"]

    for account in (doctor, blocked, osteo):
        await add(victim_token, account)
    block = await gql(BLOCK, {"id": str(blocked.professional_id)}, token=victim_token)
    assert block["data"]["blockProfessional"]["__typename"] == "BlockChanged", block
    for account in (stranger, blocked, osteo):
        await add(neighbour_token, account)

    victim_identity, neighbour_identity = await identity_of(victim), await identity_of(neighbour)

    async def conversation(token, identity):
        body = await gql(START, {"input": {"subject": "Suivi", "patient": identity,
                                           "includePatient": True, "body": "Bonjour"}},
                         token=token)
        result = body["data"]["startConversation"]
        assert result["__typename"] == "ConversationStarted", body
        return result["conversation"]["id"]

    homes = {}
    for name, token in (("stranger", stranger_token), ("blocked", blocked_token),
                        ("osteo", osteo_token)):
        homes[name] = await conversation(token, neighbour_identity)
    victim_conversation = await conversation(doctor_token, victim_identity)
    victim_public = str((await Person.get(id=victim.person_id)).public_id)
    neighbour_public = str((await Person.get(id=neighbour.person_id)).public_id)

    def home(conversation_id, public, identity):
        return {"home_patient": public, "home_identity": identity,
                "home_conversation": conversation_id}

    neighbour_home = home(homes["stranger"], neighbour_public, neighbour_identity)
    callers = {
        "unrelated_patient": Caller("unrelated_patient", neighbour_token, neighbour_home),
        "unrelated_professional": Caller("unrelated_professional", stranger_token,
                                         home(homes["stranger"], neighbour_public,
                                              neighbour_identity)),
        "blocked_professional": Caller("blocked_professional", blocked_token,
                                       home(homes["blocked"], neighbour_public,
                                            neighbour_identity)),
        "excluded_professional": Caller("excluded_professional", osteo_token,
                                        home(homes["osteo"], neighbour_public,
                                             neighbour_identity)),
        "victim": Caller("victim", victim_token,
                         home(victim_conversation, victim_public, victim_identity)),
        "doctor": Caller("doctor", doctor_token,
                         home(victim_conversation, victim_public, victim_identity)),
    }
    seq = iter(range(10_000))

    async def entry(mutation: str) -> str:
        fld = SCHEMA.mutation_type.fields[mutation]
        [arg] = fld.args.values()
        value = placeholder(arg.type, overrides(callers["victim"]))
        body = await gql(f"mutation A($i: {arg.type}) {{ r: {mutation}(input: $i) {{ "
                         "__typename ... on ProfileEntry { id } } }", {"i": value},
                         token=victim_token)
        assert "id" in body["data"]["r"], (mutation, body)
        return body["data"]["r"]["id"]

    async def session() -> str:
        before = {s["id"] for s in (await gql(SESSIONS, token=victim_token))["data"][
            "mySessions"]}
        await sign_in(gql, notifier, "victim@example.fr", PASSWORD)
        after = {s["id"] for s in (await gql(SESSIONS, token=victim_token))["data"][
            "mySessions"]}
        [new] = after - before
        return new

    async def care_team_member() -> str:
        account = await make_professional("Médecin", email=f"member{next(seq)}@example.fr")
        return await add(victim_token, account)

    async def victim_author() -> str:
        await store(rt, victim.person_id, author=doctor)
        return str(doctor.professional_id)

    async def document() -> str:
        return str((await store(rt, victim.person_id, title=f"Doc {next(seq)}")).id)

    async def document_by_doctor() -> str:
        return str((await store(rt, victim.person_id, author=doctor)).id)

    async def patient_id() -> str:
        return victim_public

    async def message(conversation_id: str) -> str:
        text = f"Publié après l'abonnement {next(seq)}"
        body = await gql(SEND, {"c": conversation_id, "body": text}, token=doctor_token)
        assert body["data"]["sendMessage"]["__typename"] == "MessageSent", body
        return text

    doctor_viewer = policy.ProfessionalViewer(doctor.id, doctor.professional_id)
    victim_viewer = policy.PatientViewer(victim.id, victim.person_id)

    async def slot() -> str:
        day = (datetime.now(UTC) + timedelta(days=30 + next(seq))).date()
        published = await agenda.publish_slots(rt, doctor_viewer, agenda.Recurrence(
            start_date=day, end_date=day, weekdays=range(7), day_start=time(9),
            day_end=time(9, 30), duration_minutes=30, place_address="1 rue Test, Paris"))
        return str(published.slots[0].id)

    async def appointment() -> str:
        start = datetime.now(UTC) + timedelta(days=3)
        item = await agenda.add_own(rt, victim_viewer, agenda.AppointmentInput(
            start_at=start, end_at=start + timedelta(hours=1), reason="Motif"))
        return str(item.row.id)

    async def booking() -> str:
        item = await agenda.book_slot(rt, victim_viewer, await slot(), "Motif")
        return str(item.row.id)

    async def doctor_appointment() -> str:
        start = datetime.now(UTC) + timedelta(days=4)
        item = await agenda.schedule(rt, doctor_viewer, victim_public, agenda.AppointmentInput(
            start_at=start, end_at=start + timedelta(hours=1), reason="Suivi"))
        return str(item.row.id)

    free_slot = await slot()
    for caller in callers.values():
        caller.context["free_slot"] = free_slot

    factories: dict[str, Callable[[], Awaitable[str]]] = {
        "slot": slot, "appointment": appointment, "booking": booking,
        "doctor_appointment": doctor_appointment,
        "document": document, "document_by_doctor": document_by_doctor,
        "conversation": lambda: conversation(doctor_token, victim_identity),
        "patient": patient_id, "session": session, "care_team_member": care_team_member,
        "victim_author": victim_author,
    }
    factories.update({f"entry:add{kind}": (lambda m=f"add{kind}": entry(m))
                      for kind in PROFILE_KINDS})
    notifier.clear()
    return {"rt": rt, "callers": callers, "factories": factories, "victim": victim,
            "publishers": {"message": message},
            "victim_public": victim_public, "victim_identity": victim_identity,
            "victim_person": await Person.get(id=victim.person_id)}


def test_every_id_slot_is_in_the_table():
    """A new field taking an id fails here until the table says whose object goes in it."""
    found = {op.slot.key for op in operations(SCHEMA)}
    unknown = sorted(found - TABLE.keys())
    assert not unknown, (
        "GraphQL fields taking an id that the attack matrix does not cover: "
        f"{unknown}. Add them to TABLE in tests/test_attack_matrix.py (whose object goes in "
        "the slot, who legitimately reads it).")
    stale = sorted(TABLE.keys() - found)
    assert not stale, f"TABLE names slots the schema no longer has: {stale}"
    # Subscriptions are walked too (a new id-taking subscription fails above until listed),
    # and one that is not public is called over the websocket, not waved through.
    assert ("Subscription.messageAdded", "conversationId") in found
    for key in found:
        case = TABLE[key]
        if key[0].startswith("Subscription.") and isinstance(case, Case):
            assert case.publish, f"{key}: say how the owner's subscription gets an event"


async def _answer(gql, caller: Caller, op: Operation, case: Case, value: str) -> dict:
    context = caller.context
    parents = {key: {arg: context[name] for arg, name in args.items()}
               for key, args in PARENT_ARGS.items()}
    built = build(SCHEMA, op, parent_args=parents,
                  slot_args={arg: context[name] for arg, name in case.args.items()},
                  overrides=overrides(caller))
    return await gql(built.query, built.with_id(value, op.slot.is_list), token=caller.token)


async def test_graphql_answers_for_the_victims_objects_are_those_for_missing_ids(gql, world):
    leaks, vacuous, covered, skipped = [], [], {}, {}
    for op in operations(SCHEMA):
        case = TABLE[op.slot.key]
        if isinstance(case, str):
            skipped[op.label] = case
            continue
        if op.root == "Subscription":
            continue  # over a websocket: test_subscriptions_to_the_victims_objects_...
        real = await world["factories"][case.target]()
        try:
            for name in ATTACKERS:
                caller = world["callers"][name]
                missing = missing_like(real)
                first = await _answer(gql, caller, op, case, missing)
                second = await _answer(gql, caller, op, case, real)
                if normalise(first, [missing]) != normalise(second, [real]):
                    leaks.append(f"{op.label} as {name}:\n  missing: {first}\n  real:    "
                                 f"{second}")
                covered.setdefault(op.label, []).append(name)
        except Unbuildable as exc:
            skipped[op.label] = str(exc)
            continue
        if not case.same_by_design:
            owner = world["callers"][case.owner]
            missing = missing_like(real)
            first = await _answer(gql, owner, op, case, missing)
            second = await _answer(gql, owner, op, case, real)
            if normalise(first, [missing]) == normalise(second, [real]):
                vacuous.append(f"{op.label} as {case.owner}: {first}")
    print("\nattack matrix, GraphQL:", *(f"  {k}: {', '.join(v)}" for k, v in covered.items()),
          "skipped:", *(f"  {k}: {v}" for k, v in skipped.items()), sep="\n")
    assert not leaks, "answers differ between a victim's object and a missing id:\n" + \
        "\n".join(leaks)
    assert not vacuous, ("the legitimate reader gets the same answer for the real object as "
                         "for a missing id, so the case tests nothing:\n" + "\n".join(vacuous))
    assert len(covered) >= 30, covered


# --- subscriptions (graphql-transport-ws) ------------------------------------------------------


async def _subscription_answer(app, caller: Caller, op: Operation, case: Case, value: str,
                               values: dict[str, object]) -> list[dict]:
    built = build(SCHEMA, op, parent_args={},
                  slot_args={arg: values[name] for arg, name in case.args.items()
                             if values[name] is not None},
                  overrides=overrides(caller))
    async with subscribed(app, caller.token, built.query,
                          built.with_id(value, op.slot.is_list)) as ws:
        return await first_answer(ws)


async def _position_now(object_id: str) -> int:
    """Where a subscription to this object resumes from now: a conversation's latest message
    (messages are numbered per conversation)."""
    try:
        conversation = await Conversation.get_or_none(id=uuid.UUID(str(object_id)))
    except ValueError:
        conversation = None
    return conversation.last_seq if conversation is not None else 0


async def test_subscriptions_to_the_victims_objects_answer_like_missing_ids(app, world):
    """Each attacker subscribes (over the app's real websocket route and graphql-transport-ws
    handler) with the victim's object and with a random missing id: the first answers are
    identical. The owner's subscription to the real object receives an event published after
    subscribing, and her answer for a missing id is the attackers' one: the refusal is the
    not-found answer, and the case reaches the object."""
    leaks, covered = [], {}
    cursors = {"omitted": None, "from the start": encode_cursor(0)}
    cases = [(op, TABLE[op.slot.key]) for op in operations(SCHEMA) if op.root == "Subscription"]
    cases = [(op, case) for op, case in cases if isinstance(case, Case)]
    refusals: dict[str, set[str]] = {}
    for op, case in cases:
        refusals[op.label] = set()
        real = await world["factories"][case.target]()
        for name in ATTACKERS:
            caller = world["callers"][name]
            for cursor_label, cursor in cursors.items():
                values = {**caller.context, "cursor": cursor}
                missing = missing_like(real)
                first = await _subscription_answer(app, caller, op, case, missing, values)
                second = await _subscription_answer(app, caller, op, case, real, values)
                label = f"{op.label} as {name}, after {cursor_label}"
                one, other = normalise(first, [missing]), normalise(second, [real])
                if one != other:
                    leaks.append(f"{label}:\n  missing: {first}\n  real:    {second}")
                refusals[op.label].add(one)
                covered.setdefault(op.label, []).append(f"{name} (after {cursor_label})")

        owner = world["callers"][case.owner]
        values = {**owner.context, "cursor": encode_cursor(await _position_now(real))}
        missing = missing_like(real)
        refused = await _subscription_answer(app, owner, op, case, missing, values)
        assert refused[-1]["type"] in ("error", "complete"), refused
        refusals[op.label].add(normalise(refused, [missing]))
        built = build(SCHEMA, op, parent_args={},
                      slot_args={arg: values[name] for arg, name in case.args.items()},
                      overrides=overrides(owner))
        async with subscribed(app, owner.token, built.query,
                              built.with_id(real, op.slot.is_list)) as ws:
            text = await world["publishers"][case.publish](real)
            received = await first_answer(ws)
        assert received[-1]["type"] == "next" and not received[-1]["payload"].get("errors"), (
            f"{op.label}: the owner's subscription did not receive the event: {received}")
        assert text in str(received[-1]["payload"]["data"]), received
    print("\nattack matrix, subscriptions:",
          *(f"  {k}: {', '.join(v)}" for k, v in covered.items()), sep="\n")
    assert not leaks, ("subscription answers differ between a victim's object and a missing "
                       "id:\n" + "\n".join(leaks))
    # Per field, every refusal (the attackers', the owner's for a missing id) is the same.
    assert all(len(answers) == 1 for answers in refusals.values()), refusals
    assert covered


# --- HTTP and FHIR reads -----------------------------------------------------------------------

# GET routes that take no patient data in their path or are not reads of a record.
NOT_RECORD_READS = {"/healthz", "/readyz", "/graphql", "/auth/psc/login", "/auth/psc/callback",
                    # A capability URL: the random token is the authorisation, not a session
                    # (tests/test_agenda_feed.py: unknown, revoked and malformed tokens 404
                    # alike, and a session gives nothing there).
                    "/agenda/feed/{token}.ics"}


def _ins(person) -> str:
    return f"urn:oid:{person.oid}|{person.matricule}"


def _missing_ins(person) -> str:
    return f"urn:oid:{person.oid}|{make_nir()}"


# path -> list of request variants: (path parameters, query parameters), each value a target
# name ("document", "patient", "ins"). Several variants for searches: whichever parameter the
# route understands, the others must answer alike for real and missing ids too.
PATIENT_SEARCH = [({}, {"patient": "patient"}), ({}, {"patient.identifier": "ins"}),
                  ({}, {"subject": "patient"})]
HTTP_TABLE: dict[str, list[tuple[dict[str, str], dict[str, str]]]] = {
    "/documents/{id}/content": [({"id": "document"}, {})],
    "/agenda/{id}.ics": [({"id": "appointment"}, {})],
    "/fhir/r4/Patient/{id}/$everything": [({"id": "patient"}, {})],
    "/fhir/r4/Patient/{id}": [({"id": "patient"}, {})],
    "/fhir/r4/Patient": [({}, {"identifier": "ins"}), ({}, {"_id": "patient"})],
    "/fhir/r4/DocumentReference/{id}": [({"id": "document"}, {})],
    "/fhir/r4/DocumentReference": PATIENT_SEARCH,
    "/fhir/r4/AllergyIntolerance": PATIENT_SEARCH,
    "/fhir/r4/Immunization": PATIENT_SEARCH,
    "/fhir/r4/MedicationStatement": PATIENT_SEARCH,
    "/fhir/r4/Observation": PATIENT_SEARCH,
}


# Who legitimately reads through these routes: the patient herself, or (FHIR searches for
# professional software) her doctor. At least one must see a difference, else the case is void.
HTTP_OWNERS = ("victim", "doctor")


def http_reads(app) -> list[str]:
    routes = [r for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())]
    return sorted(r.path for r in routes
                  if (r.path.startswith("/fhir/r4/") or r.param_convertors)
                  and r.path not in NOT_RECORD_READS and "{path:path}" not in r.path)


def test_every_http_read_is_in_the_table(app):
    unknown = [path for path in http_reads(app) if path not in HTTP_TABLE]
    assert not unknown, (
        f"GET routes reading patient data that the attack matrix cannot call: {unknown}. "
        "Add them to HTTP_TABLE in tests/test_attack_matrix.py.")


def _pick(values: dict[str, str], spec: dict[str, str]) -> dict[str, str]:
    return {name: values[target] for name, target in spec.items()}


async def _get(client, path, params, query, token):
    url = path
    for name, value in params.items():
        url = url.replace("{" + name + "}", value)
    response = await client.get(url, params=query, headers={"Authorization": f"Bearer {token}"})
    body: object = response.text
    if "json" in (response.headers.get("content-type") or ""):
        body = response.json()
        if isinstance(body, dict) and body.get("resourceType") == "Bundle":
            # Per response by nature: the Bundle's own id and when it was built.
            body.pop("id", None)
            body.pop("timestamp", None)
            body.get("meta", {}).pop("lastUpdated", None)
    return {"status": response.status_code, "type": response.headers.get("content-type"),
            "body": body}


def _with_encoded(ids: list[str]) -> list[str]:
    """The ids as sent, and as a `self` link echoes them back (percent-encoded)."""
    return [*ids, *(quote(i, safe="") for i in ids)]


async def test_http_reads_of_the_victims_objects_answer_like_missing_ids(client, world):
    person = world["victim_person"]
    for kind in ("Allergy", "Vaccination", "Treatment", "Measurement"):  # the FHIR searches
        await world["factories"][f"entry:add{kind}"]()
    leaks, vacuous, covered = [], [], {}
    for path in http_reads(client._transport.app):
        owner_differs = False
        for params, query in HTTP_TABLE[path]:
            real = {"document": await world["factories"]["document"](),
                    "appointment": await world["factories"]["appointment"](),
                    "patient": world["victim_public"], "ins": _ins(person)}
            missing = {"document": str(uuid.uuid4()), "appointment": str(uuid.uuid4()),
                       "patient": str(uuid.uuid4()), "ins": _missing_ins(person)}

            label = f"GET {path} {params or ''}{query or ''}"
            used_real = [real[v] for v in (*params.values(), *query.values())]
            used_missing = [missing[v] for v in (*params.values(), *query.values())]
            for name in (*ATTACKERS, *HTTP_OWNERS):
                token = world["callers"][name].token
                first = await _get(client, path, _pick(missing, params),
                                   _pick(missing, query), token)
                second = await _get(client, path, _pick(real, params),
                                    _pick(real, query), token)
                same = (normalise(first, _with_encoded(used_missing))
                        == normalise(second, _with_encoded(used_real)))
                if name in HTTP_OWNERS:
                    owner_differs = owner_differs or not same
                    continue
                covered.setdefault(label, []).append(name)
                if not same:
                    leaks.append(f"{label} as {name}:\n  missing: {first}\n  real:    {second}")
        if not owner_differs:
            vacuous.append(path)
    print("\nattack matrix, HTTP:", *(f"  {k}: {', '.join(v)}" for k, v in covered.items()),
          sep="\n")
    assert not leaks, "HTTP answers differ between a victim's object and a missing id:\n" + \
        "\n".join(leaks)
    assert not vacuous, ("neither the victim nor her doctor reads anything different for her "
                         f"objects than for missing ids, so these cases test nothing: {vacuous}")
    assert covered
