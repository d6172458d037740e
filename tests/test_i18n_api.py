"""The API's languages (issue 11): every message a client reads comes from the gettext catalogue
(French msgids in the code, English in backend/locales/en/LC_MESSAGES/*.po), the request's
Accept-Language chooses, French by default; `referenceData` gives the web app its lists."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import pkgutil
import string
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import websockets
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from strawberry.permission import BasePermission

import backend
from backend import i18n
from backend.errors import DomainError, PublicError
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import LOGIN, sign_in
from tests.servers import carnet_server

BACKEND = Path(backend.__file__).parent
PO_DIR = BACKEND / "locales" / "en" / "LC_MESSAGES"
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
GERMAN = {"Accept-Language": "de"}


# --- the catalogue ---------------------------------------------------------------------------


def _import_every_backend_module() -> None:
    for module in pkgutil.walk_packages([str(BACKEND)], prefix="backend."):
        if module.name.startswith("backend.migrations") or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)


def _subclasses(base: type) -> Iterator[type]:
    for subclass in base.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def _extracted() -> dict[str, str]:
    """msgid -> where, for every N_("...") and gettext("...") of backend/ (babel's extractor)."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(BACKEND), method_map=[("migrations/**.py", "ignore"), ("**.py", "python")],
            keywords={"N_": None, "gettext": None}):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"backend/{filename}:{lineno}")
    return found


def _class_messages() -> dict[str, str]:
    """The default message of every DomainError and PublicError subclass and permission class
    (imported from every backend module), whether or not it was marked with N_()."""
    _import_every_backend_module()
    found: dict[str, str] = {}
    for klass in _backend_classes(DomainError):
        message = klass.__dict__.get("message")
        if isinstance(message, str):
            found.setdefault(message, f"{klass.__module__}.{klass.__qualname__}.message")
    for klass in _backend_classes(PublicError):
        parameter = inspect.signature(klass.__init__).parameters.get("message")
        if parameter is not None and isinstance(parameter.default, str):
            found.setdefault(parameter.default, f"{klass.__module__}.{klass.__qualname__}()")
    for klass in _backend_classes(BasePermission):
        if isinstance(klass.message, str):
            found.setdefault(klass.message, f"{klass.__module__}.{klass.__qualname__}.message")
    return found


def _backend_classes(base: type) -> set[type]:
    """`base` and its subclasses defined in backend/ (not those tests define)."""
    return {klass for klass in (base, *_subclasses(base))
            if klass.__module__.startswith("backend.")}


def _enum_labels() -> dict[str, str]:
    """Every label of an enum the API translates: each value must have one."""
    from backend.access import labels as access_labels
    from backend.access.models import RelationshipOrigin
    from backend.access.policy import Section
    from backend.audit import labels as audit_labels
    from backend.audit.models import AccessGround, AccessKind
    from backend.catalogue import labels as catalogue_labels
    from backend.catalogue import scopes as catalogue_scopes
    from backend.catalogue.models import Category
    from backend.document_types import LABELS, DocumentType
    from backend.profile import labels as profile_labels
    from backend.profile.catalog import BMI_LABEL, BMI_UNIT_LABEL, DIASTOLIC_LABEL, SPECS
    from backend.profile.models import MeasurementKind
    from backend.records.sniffing import ACCEPTED, KINDS

    tables = [(DocumentType, LABELS, "document_types.LABELS"),
              (Section, access_labels.SECTIONS, "access.labels.SECTIONS"),
              (RelationshipOrigin, access_labels.RELATIONSHIP_ORIGINS,
               "access.labels.RELATIONSHIP_ORIGINS"),
              (AccessKind, audit_labels.ACCESS_KINDS, "audit.labels.ACCESS_KINDS"),
              (AccessGround, audit_labels.GROUNDS_FOR_PATIENT, "audit.labels.GROUNDS_FOR_PATIENT"),
              (AccessGround, audit_labels.GROUNDS_FOR_PROFESSIONAL,
               "audit.labels.GROUNDS_FOR_PROFESSIONAL"),
              (Category, catalogue_labels.CATEGORIES, "catalogue.labels.CATEGORIES"),
              (catalogue_scopes.Scope, catalogue_scopes.LABELS, "catalogue.scopes.LABELS")]
    tables += [(enum, table, f"profile.labels[{enum.__name__}]")
               for enum, table in profile_labels.ENUM_LABELS.items()]
    found: dict[str, str] = {}
    for enum, table, where in tables:
        unlabelled = [member for member in enum if member not in table]
        assert not unlabelled, f"{where} has no label for {unlabelled}"
        for member in enum:
            found.setdefault(table[member], f"{where}[{member.name}]")
    assert set(SPECS) == set(MeasurementKind)
    for spec in SPECS.values():
        for text in (spec.label, spec.unit_label, spec.title):
            found.setdefault(text, f"profile.catalog.SPECS[{spec.kind.name}]")
    for text in (BMI_LABEL, BMI_UNIT_LABEL, DIASTOLIC_LABEL):
        found.setdefault(text, "profile.catalog")
    assert {kind.content_type for kind in KINDS} == set(ACCEPTED)
    for kind in KINDS:
        found.setdefault(kind.label, f"records.sniffing.KINDS[{kind.content_type}]")
    return found


def _po_entries() -> list[tuple[str, str, str, bool]]:
    """(file, msgid, msgstr, fuzzy) of every English catalogue file."""
    entries = []
    for path in sorted(PO_DIR.glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale="en")
        assert str(catalog.locale) == "en", path.name
        entries += [(path.name, str(m.id), str(m.string), m.fuzzy) for m in catalog if m.id]
    return entries


@pytest.fixture(scope="module")
def used() -> dict[str, str]:
    """Every message the API may show, and where it comes from."""
    return {**_enum_labels(), **_class_messages(), **_extracted()}


def test_every_message_has_an_english_translation(used):
    english = i18n.catalogue("en")
    missing = sorted(f"{where}: {msgid!r}" for msgid, where in used.items()
                     if not english.get(msgid))
    assert not missing, ("no English translation (add it to a .po file of "
                         "backend/locales/en/LC_MESSAGES):\n" + "\n".join(missing))


def test_the_catalogue_holds_no_stale_entry(used):
    stale = sorted(f"{name}: {msgid!r}" for name, msgid, _, _ in _po_entries()
                   if msgid not in used)
    assert not stale, "msgids no longer used (remove them):\n" + "\n".join(stale)


def _placeholders(text: str) -> list[tuple[str, str, str]]:
    return sorted((name, spec or "", conversion or "")
                  for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None)


def test_translations_keep_the_placeholders_and_are_final():
    problems = []
    translations: dict[str, tuple[str, str]] = {}
    for name, msgid, msgstr, fuzzy in _po_entries():
        if fuzzy or not msgstr:
            problems.append(f"{name}: {msgid!r} is fuzzy or empty")
        try:
            same = _placeholders(msgid) == _placeholders(msgstr)
        except ValueError as exc:  # a stray brace
            problems.append(f"{name}: {msgid!r}: {exc}")
            continue
        if not same:
            problems.append(f"{name}: {msgid!r} -> {msgstr!r}: placeholders differ")
        previous = translations.setdefault(msgid, (name, msgstr))
        if previous[1] != msgstr:
            problems.append(f"{msgid!r} translated differently in {previous[0]} and {name}")
    assert not problems, "\n".join(problems)


def _message_classes() -> set[str]:
    """Names of the classes whose arguments are messages for people: domain and public errors,
    and the few exceptions that carry a Message to one of them."""
    _import_every_backend_module()
    names = {klass.__name__ for base in (DomainError, PublicError)
             for klass in (base, *_subclasses(base))}
    return names | {"Message", "_Invalid", "InvalidContact", "WeakPassword", "InvalidPage"}


def _built_text(node) -> bool:
    """An f-string, or an operation ("..." + x, "..." % x) on text."""
    import ast

    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return any(_built_text(side) or (isinstance(side, ast.Constant)
                                         and isinstance(side.value, str))
                   for side in (node.left, node.right))
    return False


def test_no_message_is_built_before_it_is_translated():
    """A message given to an error is a msgid (`N_("...")`, with named placeholders and the
    values as keywords) or a variable holding one: never an f-string, a concatenation or a
    bare French sentence, which no catalogue entry could match."""
    import ast

    classes = _message_classes()
    bad = []
    for path in sorted(BACKEND.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in classes:
                continue
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                prose = isinstance(argument, ast.Constant) and isinstance(argument.value, str) \
                    and " " in argument.value
                if prose or _built_text(argument):
                    where = f"{path.relative_to(BACKEND.parent)}:{argument.lineno}"
                    bad.append(f"{where}: {name}({ast.unparse(argument)[:60]})")
    assert not bad, "wrap these messages in N_() and pass their values as keywords:\n" + \
        "\n".join(bad)


def test_the_msgids_of_messages_with_values_have_named_placeholders(used):
    """A message built with values is translated before they are filled in: its msgid names
    them ("{limit}"); a positional or empty placeholder would be ambiguous to translators."""
    bad = [f"{where}: {msgid!r}" for msgid, where in used.items()
           if any(name == "" or name.isdigit() for name, _, _ in _placeholders(msgid))]
    assert not bad, "\n".join(bad)


# --- the core: negotiation and rendering -------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    (None, "fr"), ("", "fr"), ("de", "fr"), ("en", "en"), ("en-GB,en;q=0.9", "en"),
    ("de-DE,de;q=0.9,en;q=0.5", "en"), ("fr-FR,en;q=0.8", "fr"), ("en;q=0.5,fr;q=0.9", "fr"),
    ("en;q=0", "fr"), ("*", "fr"), ("en;q=abc", "fr"),
])
def test_accept_language_is_negotiated_with_french_by_default(header, expected):
    assert i18n.negotiate(header) == expected


def test_a_message_is_translated_before_its_values_are_filled_in():
    label = i18n.Message(i18n.N_("Fréquence cardiaque"))
    message = i18n.Message(
        "{label} hors des limites physiologiques : {value} {unit} (valeurs acceptées de "
        "{minimum} à {maximum} {unit}).", label=label, value=Decimal("350"),
        minimum=Decimal("20"), maximum=Decimal("300.0"),
        unit=i18n.Message("battements/min"))
    assert message.render("fr") == str(message) == (
        "Fréquence cardiaque hors des limites physiologiques : 350 battements/min (valeurs "
        "acceptées de 20 à 300 battements/min).")
    assert message.render("en") == (
        "Heart rate is outside physiological limits: 350 beats/min (accepted values are from "
        "20 to 300 beats/min).")
    assert i18n.format_number(Decimal("37.50"), "fr") == "37,5"
    assert i18n.format_number(Decimal("37.50"), "en") == "37.5"
    with i18n.use_locale("en"):
        assert i18n.Message("Le titre dépasse {limit} caractères.", limit=200).render() == (
            "The title must be 200 characters or fewer.")
    assert i18n.current_locale() == "fr"


# --- over HTTP -----------------------------------------------------------------------------------


async def _post(client, query: str, variables: dict | None = None, *, headers=None,
                token: str | None = None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query, "variables": variables or {}},
                             headers=headers)


async def test_a_typed_error_speaks_the_request_language(client, notifier, clean):
    variables = {"identifier": "nobody@example.fr", "password": "not the password"}
    english = await _post(client, LOGIN, variables, headers=ENGLISH)
    assert english.headers["content-language"] == "en"
    assert "accept-language" in english.headers["vary"].lower()
    result = english.json()["data"]["login"]
    assert result == {"__typename": "InvalidCredentials",
                      "message": "Your username or password is incorrect."}
    for headers in (None, GERMAN):
        french = await _post(client, LOGIN, variables, headers=headers)
        assert french.headers["content-language"] == "fr"
        assert french.json()["data"]["login"]["message"] == (
            "Identifiant ou mot de passe incorrect.")


async def test_a_message_with_a_value_is_translated_whole(client, gql, notifier, clean):
    await create_patient(email="anglais@example.fr")
    token = await sign_in(gql, notifier, "anglais@example.fr", PASSWORD)
    query = "query Log($first: Int!) { accessLog(first: $first) { totalCount } }"
    english = (await _post(client, query, {"first": 500}, headers=ENGLISH, token=token)).json()
    assert english["errors"][0]["message"] == "first must be between 1 and 100"
    assert english["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    french = (await _post(client, query, {"first": 500}, token=token)).json()
    assert french["errors"][0]["message"] == "first doit être compris entre 1 et 100"


async def test_permission_and_masked_errors_speak_the_request_language(client, monkeypatch,
                                                                       caplog):
    query = "{ profile { fhirPatientId } }"
    english = (await _post(client, query, headers=ENGLISH)).json()["errors"][0]
    assert english["extensions"]["code"] == "NOT_AUTHENTICATED"
    assert english["message"] == "You need to sign in to do this."
    for headers in (None, GERMAN):
        french = (await _post(client, query, headers=headers)).json()["errors"][0]
        assert french["message"] == "Connexion requise : veuillez vous identifier."

    from backend.announcements import services as announcements

    async def boom(first: int = 5):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(announcements, "latest", boom)
    masked = (await _post(client, "{ announcements { id } }", headers=ENGLISH)).json()
    assert masked["errors"][0]["message"] == "Something went wrong."
    assert masked["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    french = (await _post(client, "{ announcements { id } }")).json()
    assert french["errors"][0]["message"] == "Erreur inattendue."


async def test_the_login_code_email_is_in_the_language_of_the_request(client, notifier, clean):
    await create_patient(email="code@example.fr")
    variables = {"identifier": "code@example.fr", "password": PASSWORD}
    body = (await _post(client, LOGIN, variables, headers=ENGLISH)).json()
    assert body["data"]["login"]["__typename"] == "LoginChallenge", body
    email = notifier.last(to="code@example.fr")
    assert email.subject == "Carnet: your sign-in code"
    assert email.text.startswith("Your Carnet sign-in code is ")
    assert "It is valid for 15 minutes." in email.text
    assert "Do not share it with anyone" in email.text

    notifier.clear()
    body = (await _post(client, LOGIN, variables)).json()
    assert body["data"]["login"]["__typename"] == "LoginChallenge", body
    email = notifier.last(to="code@example.fr")
    assert email.subject == "Carnet : votre code de connexion"
    assert email.text.startswith("Votre code de connexion Carnet est ")
    assert email.text.endswith("Ne le communiquez à personne : Carnet ne vous le demandera "
                               "jamais.")


async def test_fhir_operation_outcomes_and_downloads_speak_the_request_language(
        client, gql, notifier, clean):
    await create_patient(email="fhir@example.fr")
    token = await sign_in(gql, notifier, "fhir@example.fr", PASSWORD)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    payload = json.dumps({"resourceType": "Patient"})
    english = await client.post("/fhir/r4/Bundle", content=payload, headers={**auth, **ENGLISH})
    assert english.status_code == 422
    assert english.headers["content-language"] == "en"
    assert english.json()["issue"][0]["diagnostics"] == (
        "Expected a FHIR Bundle (resourceType “Bundle”).")
    french = await client.post("/fhir/r4/Bundle", content=payload, headers=auth)
    assert french.json()["issue"][0]["diagnostics"] == (
        "Un Bundle FHIR est attendu (resourceType « Bundle »).")

    missing = "/documents/00000000-0000-0000-0000-000000000000/content"
    gone = await client.get(missing, headers={"Authorization": f"Bearer {token}", **ENGLISH})
    assert gone.status_code == 404
    assert gone.json() == {"error": "not_found", "message": "Document not found."}
    anonymous = await client.get(missing)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "unauthenticated",
                                "message": "Connexion requise : veuillez vous identifier."}


# --- reference data ------------------------------------------------------------------------------

REFERENCE = """{ referenceData {
  documentTypes { value label }
  uploadLimits { maxDocumentBytes maxTitleLength
                 contentKinds { contentType label extensions pickerTypes } }
  measurementKinds { value label loinc unit unitLabel minimum maximum diastolicMinimum
                     diastolicMaximum valueLabel diastolicLabel }
  allergyKinds { value label } allergyCategories { value label } severities { value label }
  historyCategories { value label } relatives { value label }
  organDonationPositions { value label }
  profileLimits { maxShortText maxLongText maxDirectiveText futureToleranceSeconds }
  messagingLimits { maxBodyLength maxSubjectLength maxAttachments maxPageSize }
  profileSections { value label } careRelationshipOrigins { value label }
  accessLimits { maxEmergencyReasonLength }
  accessKinds { value label } accessGrounds { value label professionalLabel }
} }"""


def _labels(items: list[dict]) -> dict[str, str]:
    return {item["value"]: item["label"] for item in items}


async def test_reference_data_gives_the_lists_and_limits_in_the_request_language(client, app):
    from backend.messaging import services as messaging
    from backend.profile import services as profile

    french_response = await _post(client, REFERENCE)
    assert french_response.status_code == 200 and "errors" not in french_response.json()
    french = french_response.json()["data"]["referenceData"]
    english = (await _post(client, REFERENCE, headers=ENGLISH)).json()["data"]["referenceData"]

    types = _labels(french["documentTypes"])
    assert len(types) == 19 and list(types)[0] == "CONSULTATION_REPORT"
    assert types["LAB_REPORT"] == "Compte rendu de biologie"
    assert _labels(english["documentTypes"])["LAB_REPORT"] == "Lab test report"

    limits = french["uploadLimits"]
    assert limits["maxDocumentBytes"] == app.state.runtime.settings.max_upload_bytes
    assert limits["maxTitleLength"] == 200
    kinds = {k["contentType"]: k for k in limits["contentKinds"]}
    assert set(kinds) == {"application/pdf", "image/jpeg", "image/png",
                          "text/plain; charset=utf-8", "application/hl7-cda+xml"}
    assert kinds["image/jpeg"]["extensions"] == [".jpg", ".jpeg"]
    assert kinds["application/hl7-cda+xml"]["pickerTypes"] == ["text/xml", "application/xml"]
    assert kinds["image/png"]["label"] == "Image PNG"
    english_kinds = {k["contentType"]: k["label"] for k in english["uploadLimits"]["contentKinds"]}
    assert english_kinds["image/png"] == "PNG image"

    measures = {m["value"]: m for m in french["measurementKinds"]}
    assert measures["WEIGHT"] | {"label": "Poids", "unit": "kg", "minimum": 0.3,
                                 "maximum": 500.0} == measures["WEIGHT"]
    pressure = measures["BLOOD_PRESSURE"]
    assert (pressure["label"], pressure["unitLabel"], pressure["unit"]) == (
        "Tension artérielle", "mmHg", "mm[Hg]")
    assert (pressure["diastolicMinimum"], pressure["diastolicMaximum"]) == (20.0, 200.0)
    assert pressure["valueLabel"] == "Tension artérielle systolique"
    assert measures["WEIGHT"]["diastolicMinimum"] is None
    english_measures = {m["value"]: m for m in english["measurementKinds"]}
    assert english_measures["HEART_RATE"]["label"] == "Heart rate"
    assert english_measures["HEART_RATE"]["unitLabel"] == "beats/min"
    assert english_measures["BLOOD_PRESSURE"]["diastolicLabel"] == "Diastolic blood pressure"

    assert _labels(french["severities"]) == {"MILD": "Légère", "MODERATE": "Modérée",
                                             "SEVERE": "Sévère"}
    assert _labels(english["severities"]) == {"MILD": "Mild", "MODERATE": "Moderate",
                                              "SEVERE": "Severe"}
    assert len(french["relatives"]) == 14
    assert _labels(english["relatives"])["GRANDMOTHER"] == "Grandmother"
    assert _labels(english["allergyKinds"]) == {"ALLERGY": "Allergy",
                                                "INTOLERANCE": "Intolerance"}
    assert _labels(english["organDonationPositions"])["UNDECIDED"] == "I have not decided yet"
    assert _labels(french["historyCategories"])["SURGICAL"] == "Chirurgical"
    assert _labels(english["allergyCategories"])["FOOD"] == "Food"

    assert french["profileLimits"] == {
        "maxShortText": profile.MAX_SHORT, "maxLongText": profile.MAX_LONG,
        "maxDirectiveText": profile.MAX_DIRECTIVE, "futureToleranceSeconds": 600}
    assert french["messagingLimits"] == {
        "maxBodyLength": messaging.MAX_BODY, "maxSubjectLength": messaging.MAX_SUBJECT,
        "maxAttachments": messaging.MAX_ATTACHMENTS, "maxPageSize": messaging.MAX_PAGE}
    assert french["accessLimits"] == {"maxEmergencyReasonLength": 1000}

    assert _labels(english["profileSections"])["MEDICAL_HISTORY"] == "Medical history"
    assert _labels(french["careRelationshipOrigins"]) == {
        "CARE_TEAM": "Ajouté par vous", "DECLARED": "A déclaré vous suivre"}
    assert _labels(english["accessKinds"])["EXPORT"] == "Your whole record (full export)"
    grounds = {g["value"]: g for g in english["accessGrounds"]}
    assert grounds["TREATING_DOCTOR"]["label"] == "Your regular doctor"
    assert grounds["TREATING_DOCTOR"]["professionalLabel"] == "Regular doctor"


async def test_labels_of_the_data_follow_the_request_language(client, gql, notifier, clean):
    await create_patient(email="labels@example.fr")
    token = await sign_in(gql, notifier, "labels@example.fr", PASSWORD)
    query = """query Series($kind: MeasurementSeriesKind!) {
      measurements(kind: $kind) { label unitLabel } }"""
    english = (await _post(client, query, {"kind": "HEART_RATE"}, headers=ENGLISH,
                           token=token)).json()
    assert english["data"]["measurements"] == {"label": "Heart rate", "unitLabel": "beats/min"}
    french = (await _post(client, query, {"kind": "BMI"}, token=token)).json()
    assert french["data"]["measurements"] == {"label": "Indice de masse corporelle",
                                              "unitLabel": "kg/m²"}


# --- websockets ----------------------------------------------------------------------------------

ADDED = """subscription Added($c: ID!) { messageAdded(conversationId: $c) { body } }"""


@pytest.fixture(scope="module")
def ws_url(migrated, server_env) -> Iterator[str]:
    with carnet_server(server_env) as base:
        yield base.replace("http://", "ws://") + "/graphql"


async def _first_error(url: str, payload: dict, headers: dict | None = None) -> tuple[dict, str]:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                  additional_headers=headers) as ws:
        language = ws.response.headers.get("Content-Language", "")
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": ADDED, "variables": {"c": "00000000-0000-0000-0000-000000000000"}}}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] in ("next", "error"):
                return message, language


async def test_a_websocket_error_speaks_the_socket_language(ws_url):
    def text(message: dict) -> str:
        errors = (message["payload"]["errors"] if message["type"] == "next"
                  else message["payload"])
        return errors[0]["message"]

    french, language = await _first_error(ws_url, {})
    assert language == "fr"
    assert text(french) == "Connexion requise : veuillez vous identifier."
    by_payload, _ = await _first_error(ws_url, {"language": "en"})
    assert text(by_payload) == "You need to sign in to do this."
    by_header, language = await _first_error(ws_url, {}, ENGLISH)
    assert language == "en"
    assert text(by_header) == "You need to sign in to do this."
    # The payload's language wins over the handshake's.
    chosen, _ = await _first_error(ws_url, {"language": "fr"}, ENGLISH)
    assert text(chosen) == "Connexion requise : veuillez vous identifier."
