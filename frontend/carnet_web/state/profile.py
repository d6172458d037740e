"""State of "Mon profil médical" (/profil): allergies, vaccinations, personal and family
history, treatments, measurements (with one chart per kind), emergency contacts, advance
directives and organ donation; adding, editing and deleting entries; exporting the whole
record as a FHIR R4 Bundle. Needs a patient's session: without one (or when the API says it is
no longer valid) the tab goes to the login page.

Every kind is described once (`KINDS`): its form fields, its GraphQL type and mutations, its
French wording. One form is open at a time (`form_kind`, and `form_entry_id` when editing); its
uncontrolled fields are read on submit, checked here (`parse_form`, French messages), then sent
to the API, whose typed errors get their own French messages (`result_error`).

Dates and times typed in forms, and shown, are in Paris time, like the rest of the app.

Export: `fhirEverything` is fetched here, in the Reflex backend, with the tab's token, and
handed to the browser as a file (`rx.download`): the token never reaches the browser.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.routes import PROFILE_ROUTE as ROUTE  # noqa: E402,F401  (re-exported)
from carnet_web.state.formatting import (
    display_zone,
    french_date,
    french_datetime,
    french_day,
    parse_moment,
)
from carnet_web.state.session import SessionState

EXPORT_FILENAME: Final = "carnet-dossier-fhir.json"
EXPORT_MIME_TYPE: Final = "application/fhir+json"
# The whole record in one answer: allow more than the usual 10 seconds.
EXPORT_TIMEOUT_SECONDS: Final = 60.0
MAX_SHORT: Final = 200  # the API's limits (backend/profile/services.py)
MAX_LONG: Final = 2000
MAX_DIRECTIVE: Final = 20000
FUTURE_TOLERANCE: Final = timedelta(minutes=10)  # clocks differ a little
DOCUMENT_CHOICES: Final = 100  # the API's page size limit

# --- French labels of the API's enums ------------------------------------------------------

ALLERGY_KINDS: Final = (("ALLERGY", "Allergie"), ("INTOLERANCE", "Intolérance"))
ALLERGY_CATEGORIES: Final = (
    ("FOOD", "Alimentaire"),
    ("MEDICATION", "Médicament"),
    ("ENVIRONMENT", "Environnement (pollens, acariens, animaux…)"),
    ("BIOLOGIC", "Produit biologique (vaccin, sérum…)"),
)
SEVERITIES: Final = (("MILD", "Légère"), ("MODERATE", "Modérée"), ("SEVERE", "Sévère"))
HISTORY_CATEGORIES: Final = (("MEDICAL", "Médical"), ("SURGICAL", "Chirurgical"))
RELATIVES: Final = (
    ("MOTHER", "Mère"),
    ("FATHER", "Père"),
    ("SISTER", "Sœur"),
    ("BROTHER", "Frère"),
    ("SIBLING", "Frère ou sœur"),
    ("DAUGHTER", "Fille"),
    ("SON", "Fils"),
    ("CHILD", "Enfant"),
    ("GRANDMOTHER", "Grand-mère"),
    ("GRANDFATHER", "Grand-père"),
    ("AUNT", "Tante"),
    ("UNCLE", "Oncle"),
    ("COUSIN", "Cousin ou cousine"),
    ("FAMILY_MEMBER", "Autre membre de la famille"),
)
#: Measurement kinds: (API value, French label, unit as shown). Units are fixed per kind.
MEASUREMENT_KINDS: Final = (
    ("WEIGHT", "Poids", "kg"),
    ("HEIGHT", "Taille", "cm"),
    ("BLOOD_PRESSURE", "Tension artérielle", "mmHg"),
    ("HEART_RATE", "Fréquence cardiaque", "battements/min"),
    ("BLOOD_GLUCOSE", "Glycémie", "g/L"),
    ("TEMPERATURE", "Température", "°C"),
    ("WAIST", "Tour de taille", "cm"),
)
MEASUREMENT_LABELS: Final = {value: label for value, label, _ in MEASUREMENT_KINDS}
MEASUREMENT_UNITS: Final = {value: unit for value, _, unit in MEASUREMENT_KINDS}
ORGAN_POSITIONS: Final = (
    ("CONSENTS", "J'accepte de donner mes organes et tissus"),
    ("REFUSES", "Je refuse de donner mes organes et tissus"),
    ("UNDECIDED", "Je n'ai pas encore pris ma décision"),
)


@dataclasses.dataclass(frozen=True)
class ChartSpec:
    kind: str  # a MeasurementSeriesKind
    title: str
    unit: str
    # The lines drawn: (data key, legend), "value" for all, plus "diastolic" for blood pressure.
    lines: tuple[tuple[str, str], ...] = (("value", ""),)

    @property
    def element_id(self) -> str:
        return "chart-" + self.kind.lower().replace("_", "-")


#: One chart per measurement series, in this order (BMI is derived by the API from the
#: weights and the latest height measured before each).
CHARTS: Final = (
    ChartSpec("WEIGHT", "Poids", "kg"),
    ChartSpec("BMI", "Indice de masse corporelle (IMC)", "kg/m²"),
    ChartSpec("HEIGHT", "Taille", "cm"),
    ChartSpec("WAIST", "Tour de taille", "cm"),
    ChartSpec("BLOOD_PRESSURE", "Tension artérielle", "mmHg",
              (("value", "Systolique"), ("diastolic", "Diastolique"))),
    ChartSpec("HEART_RATE", "Fréquence cardiaque", "battements/min"),
    ChartSpec("BLOOD_GLUCOSE", "Glycémie", "g/L"),
    ChartSpec("TEMPERATURE", "Température", "°C"),
)
CHART_KINDS: Final = tuple(chart.kind for chart in CHARTS)

# --- what each kind is ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a form; `name` is the API input's field (and the form field's name)."""

    name: str
    label: str
    # 'text', 'textarea', 'tel', 'email', 'date', 'datetime', 'number', 'integer', 'select',
    # or 'document' (one of my documents, listed when the form opens).
    control: str = "text"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""
    max_length: int = MAX_SHORT
    minimum: int = 0  # for 'integer'
    maximum: int = 0
    future_allowed: bool = False  # for 'date' (a treatment's planned end)
    hint: str = ""
    placeholder: str = ""

    @property
    def multiline(self) -> bool:
        return self.control == "textarea"


def _notes(limit: int = MAX_LONG) -> FieldSpec:
    return FieldSpec("notes", "Notes", "textarea", max_length=limit)


@dataclasses.dataclass(frozen=True)
class KindSpec:
    key: str  # 'allergy'
    title: str  # the section's heading
    description: str
    type_name: str  # the GraphQL type, 'Allergy'; mutations are add/update/delete<mutation>
    mutation: str  # 'Allergy' -> addAllergy, updateAllergy, deleteAllergy
    input_type: str  # 'AllergyInput'
    profile_field: str  # in `profile { ... }`: 'allergies'
    selection: str  # the type's own fields, besides the common ones
    fields: tuple[FieldSpec, ...]
    add_label: str  # the button opening an empty form
    add_title: str  # the form's heading when adding
    edit_title: str  # ... when editing
    empty: str  # when there is no entry
    added: str  # French confirmations
    updated: str
    deleted: str
    delete_question: str
    delete_warning: str
    single: bool = False  # at most one entry (set<mutation> and delete<mutation> without id)

    @property
    def anchor(self) -> str:
        return "profil-" + self.key.replace("_", "-")

    @property
    def var(self) -> str:
        """The state var listing its entries."""
        return "entries_" + self.key

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


_DELETE_WARNING: Final = "Cette action est définitive."

KINDS: Final = (
    KindSpec(
        key="allergy",
        title="Allergies et intolérances",
        description="Ce à quoi vous réagissez : médicaments, aliments, pollens…",
        type_name="Allergy",
        mutation="Allergy",
        input_type="AllergyInput",
        profile_field="allergies",
        selection="substance reaction severity since kind category notes",
        fields=(
            FieldSpec("substance", "Substance", required=True,
                      placeholder="Ex. : pénicilline, arachide"),
            FieldSpec("kind", "Type", "select", required=True, choices=ALLERGY_KINDS,
                      default="ALLERGY"),
            FieldSpec("category", "Catégorie", "select", choices=ALLERGY_CATEGORIES),
            FieldSpec("severity", "Sévérité de la réaction", "select", choices=SEVERITIES),
            FieldSpec("reaction", "Réaction", max_length=500,
                      placeholder="Ex. : urticaire, œdème"),
            FieldSpec("since", "Depuis le", "date"),
            _notes(),
        ),
        add_label="Ajouter une allergie",
        add_title="Nouvelle allergie ou intolérance",
        edit_title="Modifier l'allergie ou l'intolérance",
        empty="Aucune allergie ni intolérance enregistrée.",
        added="L'allergie a été ajoutée.",
        updated="L'allergie a été modifiée.",
        deleted="L'allergie a été supprimée.",
        delete_question="Supprimer cette allergie ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="vaccination",
        title="Vaccinations",
        description="Vos vaccins, avec leur date et leur numéro de lot si vous l'avez.",
        type_name="Vaccination",
        mutation="Vaccination",
        input_type="VaccinationInput",
        profile_field="vaccinations",
        selection="vaccine date doseNumber batch vaccinator notes",
        fields=(
            FieldSpec("vaccine", "Vaccin", required=True,
                      placeholder="Ex. : DTP (diphtérie, tétanos, poliomyélite)"),
            FieldSpec("date", "Date de vaccination", "date", required=True),
            FieldSpec("doseNumber", "Numéro de dose", "integer", minimum=1, maximum=30),
            FieldSpec("batch", "Numéro de lot", max_length=60),
            FieldSpec("vaccinator", "Vacciné par", placeholder="Ex. : Dr Martin, pharmacie"),
            _notes(),
        ),
        add_label="Ajouter une vaccination",
        add_title="Nouvelle vaccination",
        edit_title="Modifier la vaccination",
        empty="Aucune vaccination enregistrée.",
        added="La vaccination a été ajoutée.",
        updated="La vaccination a été modifiée.",
        deleted="La vaccination a été supprimée.",
        delete_question="Supprimer cette vaccination ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="medical_history",
        title="Antécédents personnels",
        description="Vos maladies et opérations, passées ou en cours.",
        type_name="MedicalHistoryEntry",
        mutation="MedicalHistory",
        input_type="MedicalHistoryInput",
        profile_field="medicalHistory",
        selection="condition category onset resolved active notes",
        fields=(
            FieldSpec("condition", "Maladie ou opération", required=True,
                      placeholder="Ex. : appendicectomie, asthme"),
            FieldSpec("category", "Nature", "select", required=True,
                      choices=HISTORY_CATEGORIES, default="MEDICAL"),
            FieldSpec("onset", "Début", "date"),
            FieldSpec("resolved", "Guérison", "date"),
            _notes(),
        ),
        add_label="Ajouter un antécédent",
        add_title="Nouvel antécédent",
        edit_title="Modifier l'antécédent",
        empty="Aucun antécédent enregistré.",
        added="L'antécédent a été ajouté.",
        updated="L'antécédent a été modifié.",
        deleted="L'antécédent a été supprimé.",
        delete_question="Supprimer cet antécédent ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="family_history",
        title="Antécédents familiaux",
        description="Les maladies de vos proches parents qui peuvent compter pour votre santé.",
        type_name="FamilyHistoryEntry",
        mutation="FamilyHistory",
        input_type="FamilyHistoryInput",
        profile_field="familyHistory",
        selection="relative condition ageAtOnset notes",
        fields=(
            FieldSpec("relative", "Lien de parenté", "select", required=True, choices=RELATIVES),
            FieldSpec("condition", "Maladie", required=True,
                      placeholder="Ex. : diabète de type 2"),
            FieldSpec("ageAtOnset", "Âge au début de la maladie", "integer", minimum=0,
                      maximum=130),
            _notes(),
        ),
        add_label="Ajouter un antécédent familial",
        add_title="Nouvel antécédent familial",
        edit_title="Modifier l'antécédent familial",
        empty="Aucun antécédent familial enregistré.",
        added="L'antécédent familial a été ajouté.",
        updated="L'antécédent familial a été modifié.",
        deleted="L'antécédent familial a été supprimé.",
        delete_question="Supprimer cet antécédent familial ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="treatment",
        title="Traitements",
        description="Les médicaments que vous prenez ou avez pris.",
        type_name="Treatment",
        mutation="Treatment",
        input_type="TreatmentInput",
        profile_field="treatments",
        selection="medication dose frequency startDate endDate prescriber current notes",
        fields=(
            FieldSpec("medication", "Médicament", required=True,
                      placeholder="Ex. : Lévothyrox 50 µg"),
            FieldSpec("dose", "Dose", placeholder="Ex. : 1 comprimé"),
            FieldSpec("frequency", "Fréquence", placeholder="Ex. : le matin à jeun"),
            FieldSpec("startDate", "Début", "date"),
            FieldSpec("endDate", "Fin", "date", future_allowed=True,
                      hint="Laissez vide pour un traitement au long cours."),
            FieldSpec("prescriber", "Prescrit par"),
            _notes(),
        ),
        add_label="Ajouter un traitement",
        add_title="Nouveau traitement",
        edit_title="Modifier le traitement",
        empty="Aucun traitement enregistré.",
        added="Le traitement a été ajouté.",
        updated="Le traitement a été modifié.",
        deleted="Le traitement a été supprimé.",
        delete_question="Supprimer ce traitement ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="measurement",
        title="Mesures",
        description=(
            "Poids, taille, tension… Les graphiques montrent leur évolution ; l'IMC est "
            "calculé à partir de chaque poids et de la dernière taille mesurée avant."
        ),
        type_name="Measurement",
        mutation="Measurement",
        input_type="MeasurementInput",
        profile_field="measurements",
        selection="kind label value diastolic unit unitLabel measuredAt notes bmi",
        fields=(
            FieldSpec("kind", "Type de mesure", "select", required=True,
                      choices=tuple((value, f"{label} ({unit})")
                                    for value, label, unit in MEASUREMENT_KINDS),
                      default="WEIGHT"),
            FieldSpec("value", "Valeur", "number", required=True,
                      hint="Pour la tension : la pression systolique (le premier chiffre).",
                      placeholder="Ex. : 72,5"),
            FieldSpec("diastolic", "Pression diastolique", "number",
                      hint="Pour la tension uniquement (le second chiffre)."),
            FieldSpec("measuredAt", "Date et heure de la mesure", "datetime", required=True),
            _notes(500),
        ),
        add_label="Ajouter une mesure",
        add_title="Nouvelle mesure",
        edit_title="Modifier la mesure",
        empty="Aucune mesure enregistrée.",
        added="La mesure a été ajoutée.",
        updated="La mesure a été modifiée.",
        deleted="La mesure a été supprimée.",
        delete_question="Supprimer cette mesure ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="emergency_contact",
        title="Personnes à prévenir",
        description="Qui prévenir en cas d'urgence.",
        type_name="EmergencyContact",
        mutation="EmergencyContact",
        input_type="EmergencyContactInput",
        profile_field="emergencyContacts",
        selection="name relationship phone email notes",
        fields=(
            FieldSpec("name", "Nom", required=True),
            FieldSpec("relationship", "Lien", placeholder="Ex. : conjoint, fille, voisin"),
            FieldSpec("phone", "Téléphone", "tel", max_length=30),
            FieldSpec("email", "Courriel", "email", max_length=254),
            _notes(500),
        ),
        add_label="Ajouter une personne à prévenir",
        add_title="Nouvelle personne à prévenir",
        edit_title="Modifier la personne à prévenir",
        empty="Aucune personne à prévenir enregistrée.",
        added="La personne à prévenir a été ajoutée.",
        updated="La personne à prévenir a été modifiée.",
        deleted="La personne à prévenir a été supprimée.",
        delete_question="Supprimer cette personne à prévenir ?",
        delete_warning=_DELETE_WARNING,
    ),
    KindSpec(
        key="advance_directive",
        title="Directives anticipées",
        description=(
            "Vos volontés sur les soins en fin de vie, pour le cas où vous ne pourriez plus "
            "les exprimer : un texte, un document de votre dossier, ou les deux."
        ),
        type_name="AdvanceDirective",
        mutation="AdvanceDirective",
        input_type="AdvanceDirectiveInput",
        profile_field="advanceDirective",
        selection="text documentId",
        fields=(
            FieldSpec("text", "Mes directives", "textarea", max_length=MAX_DIRECTIVE),
            FieldSpec("documentId", "Document de mon dossier", "document"),
        ),
        add_label="Rédiger mes directives anticipées",
        add_title="Mes directives anticipées",
        edit_title="Modifier mes directives anticipées",
        empty="Vous n'avez pas rédigé de directives anticipées.",
        added="Vos directives anticipées ont été enregistrées.",
        updated="Vos directives anticipées ont été modifiées.",
        deleted="Vos directives anticipées ont été supprimées.",
        delete_question="Supprimer vos directives anticipées ?",
        delete_warning="Le document joint, s'il y en a un, reste dans votre dossier.",
        single=True,
    ),
    KindSpec(
        key="organ_donation",
        title="Don d'organes",
        description=(
            "En France, chacun est présumé donneur, sauf refus exprimé, notamment par "
            "inscription au registre national des refus. Indiquer votre position ici informe "
            "vos proches et vos soignants, mais ne remplace pas cette inscription."
        ),
        type_name="OrganDonation",
        mutation="OrganDonation",
        input_type="OrganDonationInput",
        profile_field="organDonation",
        selection="position note",
        fields=(
            FieldSpec("position", "Ma position", "select", required=True,
                      choices=ORGAN_POSITIONS),
            FieldSpec("note", "Note", "textarea"),
        ),
        add_label="Indiquer ma position",
        add_title="Ma position sur le don d'organes",
        edit_title="Modifier ma position sur le don d'organes",
        empty="Vous n'avez pas indiqué de position.",
        added="Votre position sur le don d'organes a été enregistrée.",
        updated="Votre position sur le don d'organes a été modifiée.",
        deleted="Votre position sur le don d'organes a été retirée.",
        delete_question="Retirer votre position sur le don d'organes ?",
        delete_warning="Vous pourrez en indiquer une de nouveau à tout moment.",
        single=True,
    ),
)
BY_KEY: Final = {spec.key: spec for spec in KINDS}

# --- GraphQL operations --------------------------------------------------------------------

_COMMON_FIELDS: Final = "id recordedAt imported author { isPatient professional { profession } }"
_SERIES_FIELDS: Final = "kind unit unitLabel points { at value diastolic measurementId }"


def _profile_document() -> str:
    lists = "\n".join(
        f"    {spec.profile_field} {{ {_COMMON_FIELDS} {spec.selection} }}" for spec in KINDS
    )
    series = "\n".join(
        f"  series{kind}: measurements(kind: {kind}) {{ {_SERIES_FIELDS} }}"
        for kind in CHART_KINDS
    )
    return f"query Profile {{\n  profile {{\n{lists}\n  }}\n{series}\n}}"


#: My whole profile and every chart series, in one request.
PROFILE: Final = api.operation(_profile_document())

FHIR_EVERYTHING: Final = api.operation("query FhirEverything { fhirEverything }")

DOCUMENT_CHOICES_QUERY: Final = api.operation(
    """
    query ProfileDocumentChoices($first: Int!) {
      documents(first: $first) { edges { node { id title clinicalDate } } }
    }
    """
)

DIRECTIVE_DOCUMENT: Final = api.operation(
    """
    query ProfileDirectiveDocument($id: ID!) {
      document(id: $id) { id title }
    }
    """
)


def _result_selection(spec: KindSpec) -> str:
    extra = ""
    if spec.key == "measurement":
        extra = " ... on MeasurementOutOfRange { field minimum maximum unit }"
    return (f"__typename ... on {spec.type_name} {{ id }} ... on Error {{ message }} "
            f"... on InvalidProfileInput {{ field }}{extra}")


_DELETED_SELECTION: Final = "__typename ... on EntryDeleted { id } ... on Error { message }"


@dataclasses.dataclass(frozen=True)
class KindOperations:
    save_field: str  # the mutation's field in `data`, when adding
    update_field: str  # ... when editing ('' for single kinds: save replaces)
    delete_field: str
    add: Any
    update: Any  # None for single kinds
    delete: Any


def _operations(spec: KindSpec) -> KindOperations:
    name = spec.mutation
    selection = _result_selection(spec)
    if spec.single:
        return KindOperations(
            save_field=f"set{name}",
            update_field="",
            delete_field=f"delete{name}",
            add=api.operation(
                f"mutation Set{name}($input: {spec.input_type}!) "
                f"{{ set{name}(input: $input) {{ {selection} }} }}"
            ),
            update=None,
            delete=api.operation(
                f"mutation Delete{name} {{ delete{name} {{ {_DELETED_SELECTION} }} }}"
            ),
        )
    return KindOperations(
        save_field=f"add{name}",
        update_field=f"update{name}",
        delete_field=f"delete{name}",
        add=api.operation(
            f"mutation Add{name}($input: {spec.input_type}!) "
            f"{{ add{name}(input: $input) {{ {selection} }} }}"
        ),
        update=api.operation(
            f"mutation Update{name}($id: ID!, $input: {spec.input_type}!) "
            f"{{ update{name}(id: $id, input: $input) {{ {selection} }} }}"
        ),
        delete=api.operation(
            f"mutation Delete{name}($id: ID!) "
            f"{{ delete{name}(id: $id) {{ {_DELETED_SELECTION} }} }}"
        ),
    )


OPERATIONS_BY_KIND: Final = {spec.key: _operations(spec) for spec in KINDS}

# --- French messages ----------------------------------------------------------------------

PATIENTS_ONLY: Final = "Le profil médical est réservé aux comptes patients."
ENTRY_GONE: Final = "Cet élément n'existe plus : il a peut-être été supprimé."
CONTACT_NEEDS_A_WAY: Final = "Indiquez un téléphone ou un courriel."
DIRECTIVE_EMPTY: Final = "Rédigez vos directives ou choisissez un document."
DIASTOLIC_MISSING: Final = "Pression diastolique : indiquez-la aussi pour une tension."
DIASTOLIC_NOT_EXPECTED: Final = (
    "Pression diastolique : à indiquer seulement pour une tension artérielle."
)
DIASTOLIC_NOT_BELOW: Final = "La pression diastolique doit être inférieure à la systolique."
RESOLVED_BEFORE_ONSET: Final = "La date de guérison précède le début."
END_BEFORE_START: Final = "La date de fin précède le début."
EXPORT_EMPTY: Final = "L'export n'a rien renvoyé. Veuillez réessayer."
NO_DOCUMENT: Final = "Aucun document"
DOCUMENTS_UNAVAILABLE: Final = (
    "La liste de vos documents n'a pas pu être chargée : vous pouvez tout de même "
    "enregistrer un texte."
)


def required_message(label: str) -> str:
    return f"{label} : ce champ est obligatoire."


def too_long_message(label: str, limit: int) -> str:
    return f"{label} : {limit} caractères au maximum."


def choose_message(label: str) -> str:
    return f"{label} : choisissez une valeur dans la liste."


def invalid_number_message(label: str) -> str:
    return f"{label} : nombre invalide (par exemple 72,5)."


def invalid_integer_message(label: str) -> str:
    return f"{label} : nombre entier attendu."


def range_message(label: str, low: int, high: int) -> str:
    return f"{label} : valeur attendue entre {low} et {high}."


def invalid_date_message(label: str) -> str:
    return f"{label} : date invalide."


def future_date_message(label: str) -> str:
    return f"{label} : la date est dans le futur."


def exported_message(count: int) -> str:
    if count <= 0:
        return "Votre dossier a été exporté."
    return f"Votre dossier a été exporté ({count} ressource" + ("s" if count > 1 else "") + ")."


def french_number(value: float) -> str:
    """72.5 -> '72,5'; 500.0 -> '500'; 0.3 -> '0,3' (at most 3 decimals)."""
    text = f"{float(value):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text.replace(".", ",")


def measured_label(kind: str, field: str) -> str:
    """The French name of a measured value, as the API names it in its messages."""
    if kind == "BLOOD_PRESSURE":
        return "Tension artérielle " + ("diastolique" if field == "diastolic" else "systolique")
    return MEASUREMENT_LABELS.get(kind, "Valeur")


def out_of_range_message(result: Mapping[str, Any], *, kind: str, value: float | None) -> str:
    """'Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).'"""
    field = str(result.get("field") or "value")
    unit = str(result.get("unit") or MEASUREMENT_UNITS.get(kind, ""))
    low, high = result.get("minimum"), result.get("maximum")
    label = measured_label(kind, field)
    entered = f" : {french_number(value)} {unit}" if value is not None else ""
    if low is None or high is None:
        return f"{label} hors des limites physiologiques{entered}."
    return (f"{label} hors des limites physiologiques{entered} (valeurs acceptées de "
            f"{french_number(float(low))} à {french_number(float(high))} {unit}).")


def _fallback(result: Mapping[str, Any]) -> str:
    # An error type this page does not know yet: the API's own (French) message.
    message = result.get("message")
    return message if isinstance(message, str) and message else api.UNEXPECTED_MESSAGE


def result_error(result: Mapping[str, Any], *, kind: str = "",
                 values: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(form field, French message) for an error member of a profile mutation's result."""
    typename = result.get("__typename")
    field = str(result.get("field") or "")
    if typename == "MeasurementOutOfRange":
        entered = (values or {}).get(field or "value")
        return field or "value", out_of_range_message(
            result, kind=kind, value=float(entered) if entered is not None else None)
    if typename == "EntryNotFound":
        return "", ENTRY_GONE
    # InvalidProfileInput: the API names the field and says what is wrong, in French.
    return field, _fallback(result)


# --- reading forms -------------------------------------------------------------------------


def now_local() -> datetime:
    return datetime.now(display_zone())


def local_input_value(iso: str) -> str:
    """An API date-time as a datetime-local field shows it (Paris time): '2026-01-05T09:30'."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    return moment.astimezone(display_zone()).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str) -> datetime | None:
    """A datetime-local field's value, in Paris time; None if unreadable."""
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=display_zone())
        except ValueError:
            continue
    return None


def parse_number(raw: str) -> float | None:
    """'72,5', '72.5', ' 1 000 ' -> float; None if not a finite number."""
    text = raw.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class FormProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _clean_text(raw: str, *, multiline: bool) -> str:
    if multiline:
        return "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()).strip()
    return " ".join(raw.split())


def _field_value(spec: FieldSpec, raw: object, now: datetime) -> Any:
    """The API input value of one field (None when left empty). Raises FormProblem."""
    text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    control = spec.control
    if control in ("text", "textarea", "tel", "email"):
        value = _clean_text(text, multiline=spec.multiline)
        if len(value) > spec.max_length:
            raise FormProblem(spec.name, too_long_message(spec.label, spec.max_length))
    else:
        value = text.strip()
    if not value:
        if spec.required:
            message = (choose_message(spec.label) if control == "select"
                       else required_message(spec.label))
            raise FormProblem(spec.name, message)
        return None
    if control == "select":
        if value not in {choice for choice, _ in spec.choices}:
            raise FormProblem(spec.name, choose_message(spec.label))
        return value
    if control == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise FormProblem(spec.name, invalid_date_message(spec.label)) from None
        if day.year < 1900:
            raise FormProblem(spec.name, invalid_date_message(spec.label))
        if not spec.future_allowed and day > now.date():
            raise FormProblem(spec.name, future_date_message(spec.label))
        return day.isoformat()
    if control == "datetime":
        moment = parse_local(value)
        if moment is None or moment.year < 1900:
            raise FormProblem(spec.name, invalid_date_message(spec.label))
        if moment > now + FUTURE_TOLERANCE:
            raise FormProblem(spec.name, future_date_message(spec.label))
        return moment.isoformat()
    if control == "number":
        number = parse_number(value)
        if number is None:
            raise FormProblem(spec.name, invalid_number_message(spec.label))
        return number
    if control == "integer":
        try:
            whole = int(value)
        except ValueError:
            raise FormProblem(spec.name, invalid_integer_message(spec.label)) from None
        if not spec.minimum <= whole <= spec.maximum:
            raise FormProblem(spec.name, range_message(spec.label, spec.minimum, spec.maximum))
        return whole
    return value  # 'document': an id of my record (the API checks it is mine)


def _check_together(key: str, values: dict[str, Any]) -> None:
    """Rules between fields (the API has the same ones). Raises FormProblem."""
    if key == "measurement":
        blood_pressure = values.get("kind") == "BLOOD_PRESSURE"
        if blood_pressure and values.get("diastolic") is None:
            raise FormProblem("diastolic", DIASTOLIC_MISSING)
        if not blood_pressure and values.get("diastolic") is not None:
            raise FormProblem("diastolic", DIASTOLIC_NOT_EXPECTED)
        if blood_pressure and values["diastolic"] >= values["value"]:
            raise FormProblem("diastolic", DIASTOLIC_NOT_BELOW)
    elif key == "medical_history":
        if values.get("onset") and values.get("resolved") and values["resolved"] < values["onset"]:
            raise FormProblem("resolved", RESOLVED_BEFORE_ONSET)
    elif key == "treatment":
        start, end = values.get("startDate"), values.get("endDate")
        if start and end and end < start:
            raise FormProblem("endDate", END_BEFORE_START)
    elif key == "emergency_contact":
        if not values.get("phone") and not values.get("email"):
            raise FormProblem("phone", CONTACT_NEEDS_A_WAY)
    elif key == "advance_directive" and not values.get("text") and not values.get("documentId"):
        raise FormProblem("text", DIRECTIVE_EMPTY)


def parse_form(spec: KindSpec, form: Mapping[str, Any], *, now: datetime | None = None
               ) -> tuple[dict[str, Any], FormProblem | None]:
    """The API input from a submitted form, or the first problem (field, French message)."""
    moment = now or now_local()
    values: dict[str, Any] = {}
    try:
        for field in spec.fields:
            values[field.name] = _field_value(field, form.get(field.name), moment)
        _check_together(spec.key, values)
    except FormProblem as problem:
        return values, problem
    return values, None


# --- showing entries -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EntryItem:
    id: str
    title: str  # plain text, always
    badge: str  # e.g. 'Intolérance', 'Chirurgical', 'En cours'; '' for none
    details: list[str]
    text: str  # a longer free text (notes, directives), shown with its line breaks
    meta: str  # 'Ajouté par vous le 3 mars 2026'
    imported: bool


@dataclasses.dataclass(frozen=True)
class DocumentChoice:
    id: str
    label: str  # 'Directives 2024 (3 mars 2024)'


def _label(choices: tuple[tuple[str, str], ...], value: object) -> str:
    return dict(choices).get(str(value or ""), "")


def author_label(author: Mapping[str, Any] | None) -> str:
    author = author or {}
    if author.get("isPatient"):
        return "vous"
    profession = str(((author.get("professional") or {}).get("profession")) or "").strip()
    return profession or "un professionnel de santé"


def _meta(raw: Mapping[str, Any]) -> str:
    day = french_date(str(raw.get("recordedAt") or ""))
    author = author_label(raw.get("author"))
    by = "Ajouté par vous" if author == "vous" else f"Ajouté par : {author}"
    return f"{by} le {day}" if day else by


def _day_detail(prefix: str, value: object) -> list[str]:
    day = french_day(str(value or ""))
    return [f"{prefix} {day}"] if day else []


def _text_detail(prefix: str, value: object) -> list[str]:
    text = str(value or "").strip()
    return [f"{prefix}{text}"] if text else []


def _describe(key: str, raw: Mapping[str, Any]) -> tuple[str, str, list[str], str]:
    """(title, badge, details, long text) of one entry."""
    notes = str(raw.get("notes") or "")
    if key == "allergy":
        details = [
            *_text_detail("Catégorie : ", _label(ALLERGY_CATEGORIES, raw.get("category"))),
            *_text_detail("Réaction : ", raw.get("reaction")),
            *_text_detail("Sévérité : ", _label(SEVERITIES, raw.get("severity")).lower()),
            *_day_detail("Depuis le", raw.get("since")),
        ]
        return str(raw["substance"]), _label(ALLERGY_KINDS, raw.get("kind")), details, notes
    if key == "vaccination":
        dose = raw.get("doseNumber")
        details = [
            *_day_detail("Le", raw.get("date")),
            *([f"Dose n° {dose}"] if dose else []),
            *_text_detail("Lot : ", raw.get("batch")),
            *_text_detail("Vacciné par : ", raw.get("vaccinator")),
        ]
        return str(raw["vaccine"]), "", details, notes
    if key == "medical_history":
        resolved = french_day(str(raw.get("resolved") or ""))
        details = [
            *_day_detail("Depuis le", raw.get("onset")),
            *([f"Guéri le {resolved}"] if resolved else []),
        ]
        badge = _label(HISTORY_CATEGORIES, raw.get("category"))
        if raw.get("active") and not resolved:
            details.append("En cours")
        return str(raw["condition"]), badge, details, notes
    if key == "family_history":
        age = raw.get("ageAtOnset")
        details = [
            *_text_detail("", _label(RELATIVES, raw.get("relative"))),
            *([f"Âge au début : {age} an" + ("s" if int(age) > 1 else "")]
              if age is not None else []),
        ]
        return str(raw["condition"]), "", details, notes
    if key == "treatment":
        start = french_day(str(raw.get("startDate") or ""))
        end = french_day(str(raw.get("endDate") or ""))
        period = (f"Du {start} au {end}" if start and end else f"Depuis le {start}" if start
                  else f"Jusqu'au {end}" if end else "")
        details = [
            *_text_detail("Dose : ", raw.get("dose")),
            *_text_detail("Fréquence : ", raw.get("frequency")),
            *([period] if period else []),
            *_text_detail("Prescrit par : ", raw.get("prescriber")),
        ]
        badge = "En cours" if raw.get("current") else "Terminé"
        return str(raw["medication"]), badge, details, notes
    if key == "measurement":
        kind = str(raw.get("kind") or "")
        unit = str(raw.get("unitLabel") or MEASUREMENT_UNITS.get(kind, ""))
        value = french_number(float(raw["value"]))
        if raw.get("diastolic") is not None:
            value += "/" + french_number(float(raw["diastolic"]))
        label = MEASUREMENT_LABELS.get(kind) or str(raw.get("label") or "Mesure")
        details = [f"Mesuré le {french_datetime(str(raw.get('measuredAt') or ''))}"]
        if raw.get("bmi") is not None:
            details.append(f"IMC : {french_number(float(raw['bmi']))}")
        return f"{label} : {value} {unit}", "", details, notes
    if key == "emergency_contact":
        details = [
            *_text_detail("", raw.get("relationship")),
            *_text_detail("Téléphone : ", raw.get("phone")),
            *_text_detail("Courriel : ", raw.get("email")),
        ]
        return str(raw["name"]), "", details, notes
    if key == "advance_directive":
        details = ["Un document de votre dossier est joint."] if raw.get("documentId") else []
        return "Mes directives anticipées", "", details, str(raw.get("text") or "")
    if key == "organ_donation":
        position = _label(ORGAN_POSITIONS, raw.get("position")) or "Position indiquée"
        return position, "", [], str(raw.get("note") or "")
    raise ValueError(key)


def entry_item(key: str, raw: Mapping[str, Any]) -> EntryItem:
    title, badge, details, text = _describe(key, raw)
    return EntryItem(id=str(raw["id"]), title=title, badge=badge, details=details, text=text,
                     meta=_meta(raw), imported=bool(raw.get("imported")))


def form_values(spec: KindSpec, raw: Mapping[str, Any] | None) -> dict[str, str]:
    """What the form shows when it opens: an entry's values, or the defaults."""
    values: dict[str, str] = {}
    for field in spec.fields:
        if raw is None:
            value = field.default
            if field.control == "datetime":
                value = now_local().strftime("%Y-%m-%dT%H:%M")
        else:
            found = raw.get(field.name)
            if found is None:
                value = ""
            elif field.control == "datetime":
                value = local_input_value(str(found))
            elif field.control == "number":
                value = french_number(float(found))
            else:
                value = str(found)
        values[field.name] = value
    return values


def chart_points(series: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A series from the API as chart data, oldest first: date label and value(s)."""
    points = []
    for point in (series or {}).get("points") or []:
        moment = parse_moment(str(point.get("at") or ""))
        if moment is None:
            continue
        local = moment.astimezone(display_zone())
        diastolic = point.get("diastolic")
        points.append({
            "date": local.strftime("%d/%m/%Y"),
            "value": float(point["value"]),
            "diastolic": float(diastolic) if diastolic is not None else None,
        })
    return points


def chart_summary(chart: ChartSpec, series: Mapping[str, Any] | None) -> str:
    """The chart in words, for everyone (and screen readers): count and latest value."""
    points = (series or {}).get("points") or []
    if not points:
        return ""
    last = points[-1]
    value = french_number(float(last["value"]))
    if last.get("diastolic") is not None:
        value += "/" + french_number(float(last["diastolic"]))
    unit = str((series or {}).get("unitLabel") or chart.unit)
    count = len(points)
    when = french_datetime(str(last.get("at") or ""))
    return (f"{count} mesure" + ("s" if count > 1 else "")
            + f" ; dernière : {value} {unit} le {when}.")


def _empty_charts() -> dict[str, list[dict[str, Any]]]:
    return {kind: [] for kind in CHART_KINDS}


def _empty_summaries() -> dict[str, str]:
    return dict.fromkeys(CHART_KINDS, "")


class ProfileState(SessionState):
    loading: bool = True
    loaded: bool = False  # the profile was read at least once (the sections are shown)
    error: str = ""
    info: str = ""
    exporting: bool = False
    # One list per kind (single kinds hold 0 or 1 entry).
    entries_allergy: list[EntryItem] = []
    entries_vaccination: list[EntryItem] = []
    entries_medical_history: list[EntryItem] = []
    entries_family_history: list[EntryItem] = []
    entries_treatment: list[EntryItem] = []
    entries_measurement: list[EntryItem] = []
    entries_emergency_contact: list[EntryItem] = []
    entries_advance_directive: list[EntryItem] = []
    entries_organ_donation: list[EntryItem] = []
    # Chart data by series kind, and each chart in words.
    charts: dict[str, list[dict[str, Any]]] = _empty_charts()
    chart_summaries: dict[str, str] = _empty_summaries()
    # The one open form.
    form_kind: str = ""  # a KindSpec.key, or '' when no form is open
    form_entry_id: str = ""  # the entry being edited, '' when adding
    form_defaults: dict[str, str] = {}  # what the form's fields show when it opens
    form_key: int = 0  # bumped to remount (and so reset) the form
    form_error: str = ""
    form_error_field: str = ""
    form_notice: str = ""  # e.g. the documents could not be listed
    saving: bool = False
    document_choices: list[DocumentChoice] = []
    # The last change, said in its section.
    saved_kind: str = ""
    saved_message: str = ""
    # The delete confirmation.
    deleting_kind: str = ""
    deleting_id: str = ""
    deleting_title: str = ""
    deleting_question: str = ""
    deleting_warning: str = ""
    deleting: bool = False

    # Each entry as the API sent it, for the edit forms: kind -> id -> entry.
    _raw: dict[str, dict[str, dict[str, Any]]] = {}
    # Whose session read what is shown (a hash of its token): another sign-in in this tab
    # must never see it, not even while its own profile loads.
    _owner: str = ""

    @rx.var
    def busy(self) -> bool:
        """A change is on its way to the API: the other buttons wait."""
        return self.saving or self.deleting

    def _busy(self) -> bool:
        return self.saving or self.deleting

    # --- reading ------------------------------------------------------------------------

    async def _fetch(self) -> None:
        """Read my profile and every chart series. Raises `api.ApiError`."""
        data = await self._query(PROFILE)
        profile = data["profile"]
        raw: dict[str, dict[str, dict[str, Any]]] = {}
        for spec in KINDS:
            found = profile.get(spec.profile_field)
            rows = ([found] if found else []) if spec.single else list(found or [])
            raw[spec.key] = {str(row["id"]): row for row in rows}
            setattr(self, spec.var, [entry_item(spec.key, row) for row in rows])
        self._raw = raw
        self._owner = self._session_hash()
        self.charts = {chart.kind: chart_points(data.get(f"series{chart.kind}"))
                       for chart in CHARTS}
        self.chart_summaries = {chart.kind: chart_summary(chart, data.get(f"series{chart.kind}"))
                                for chart in CHARTS}
        self.loaded = True
        await self._fetch_directive_document(profile.get("advanceDirective"))

    async def _fetch_directive_document(self, directive: Mapping[str, Any] | None) -> None:
        """Name the document joined to my directives (best effort: else it stays unnamed)."""
        document_id = (directive or {}).get("documentId")
        if not document_id:
            return
        try:
            found = (await self._query(DIRECTIVE_DOCUMENT, {"id": str(document_id)}))["document"]
        except api.ApiUnauthenticated:
            raise
        except api.ApiError:
            return
        details = ([f"Document joint : « {found['title']} »"] if found
                   else ["Le document joint n'est plus dans votre dossier."])
        self.entries_advance_directive = [
            dataclasses.replace(item, details=details) for item in self.entries_advance_directive
        ]

    def _session_hash(self) -> str:
        return hashlib.sha256(self._api_token.encode()).hexdigest() if self._api_token else ""

    def _forget_profile(self) -> None:
        for spec in KINDS:
            setattr(self, spec.var, [])
        self._raw = {}
        self._owner = ""
        self.charts = _empty_charts()
        self.chart_summaries = _empty_summaries()
        self.document_choices = []
        self.loaded = False
        self._close_form()
        self._close_delete()

    def _expired(self) -> EventSpec:
        self._forget_profile()
        return self._to_login(api.UNAUTHENTICATED_MESSAGE)

    def _api_failed(self, exc: api.ApiError) -> str:
        return PATIENTS_ONLY if exc.code == "FORBIDDEN" else exc.message

    async def _reload(self) -> AsyncIterator[EventSpec | None]:
        try:
            await self._fetch()
        except api.ApiUnauthenticated:
            yield self._expired()
        except api.ApiError as exc:
            self.error = self._api_failed(exc)

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if self._owner and self._owner != self._session_hash():
            self._forget_profile()  # read by another session of this tab
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        self.info = ""
        self.saved_kind = self.saved_message = ""
        self._close_form()
        self._close_delete()
        yield
        try:
            async for event in self._reload():
                yield event
        finally:
            self.loading = False

    # --- forms --------------------------------------------------------------------------

    def _close_form(self) -> None:
        self.form_kind = ""
        self.form_entry_id = ""
        self.form_defaults = {}
        self.form_error = ""
        self.form_error_field = ""
        self.form_notice = ""
        self.saving = False
        self.form_key += 1

    async def _open_form(self, spec: KindSpec, raw: Mapping[str, Any] | None
                         ) -> AsyncIterator[EventSpec | None]:
        self._close_delete()
        self.info = ""
        self.saved_kind = self.saved_message = ""
        if spec.key == "advance_directive":
            # The document list first: the select must have its options when it mounts.
            try:
                await self._fetch_document_choices()
            except api.ApiUnauthenticated:
                yield self._expired()
                return
        else:
            self.document_choices = []
            self.form_notice = ""
        self.form_kind = spec.key
        self.form_entry_id = str(raw["id"]) if raw is not None else ""
        self.form_defaults = form_values(spec, raw)
        self.form_error = ""
        self.form_error_field = ""
        self.form_key += 1

    async def _fetch_document_choices(self) -> None:
        self.form_notice = ""
        try:
            data = await self._query(DOCUMENT_CHOICES_QUERY, {"first": DOCUMENT_CHOICES})
        except api.ApiUnauthenticated:
            raise
        except api.ApiError:
            self.document_choices = []
            self.form_notice = DOCUMENTS_UNAVAILABLE
            return
        choices = []
        for edge in data["documents"]["edges"]:
            node = edge["node"]
            day = french_day(str(node.get("clinicalDate") or ""))
            label = str(node["title"]) + (f" ({day})" if day else "")
            choices.append(DocumentChoice(id=str(node["id"]), label=label))
        self.document_choices = choices

    @rx.event
    async def open_form(self, kind: str) -> AsyncIterator[EventSpec | None]:
        """"Ajouter …": an empty form for this kind (closes any other)."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        existing = self._raw.get(kind) or {}
        # A single kind with an entry is edited, never added twice.
        raw = next(iter(existing.values())) if spec.single and existing else None
        async for event in self._open_form(spec, raw):
            yield event

    @rx.event
    async def edit(self, kind: str, entry_id: str) -> AsyncIterator[EventSpec | None]:
        """"Modifier": the form of this entry, filled with its values."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        raw = (self._raw.get(kind) or {}).get(entry_id)
        if raw is None:
            self.error = ENTRY_GONE
            async for event in self._reload():
                yield event
            return
        async for event in self._open_form(spec, raw):
            yield event

    @rx.event
    def cancel_form(self) -> None:
        if not self.saving:
            self._close_form()

    @rx.event
    async def submit(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Enregistrer" in the open form: check it, add or update, then read the profile
        again (the lists' order and the charts are the API's)."""
        spec = BY_KEY.get(self.form_kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        values, problem = parse_form(spec, form_data)
        if problem is not None:
            self.form_error, self.form_error_field = problem.message, problem.field
            return
        operations = OPERATIONS_BY_KIND[spec.key]
        entry_id = self.form_entry_id
        if spec.single or not entry_id:
            document, variables, field = operations.add, {"input": values}, operations.save_field
        else:
            document, field = operations.update, operations.update_field
            variables = {"id": entry_id, "input": values}
        self.saving = True
        self.form_error = self.form_error_field = ""
        self.error = ""
        self.info = ""
        yield
        try:
            data = await self._query(document, variables)
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.form_error = self._api_failed(exc)
            return
        finally:
            self.saving = False
        result = data[field]
        if result.get("__typename") != spec.type_name:
            field_name, message = result_error(result, kind=str(values.get("kind") or ""),
                                               values=values)
            if result.get("__typename") == "EntryNotFound":
                self._close_form()
                self.error = message
                async for event in self._reload():
                    yield event
                return
            self.form_error, self.form_error_field = message, field_name
            return
        editing = bool(entry_id) or (spec.single and bool(self._raw.get(spec.key)))
        self._close_form()
        self.saved_kind = spec.key
        self.saved_message = spec.updated if editing else spec.added
        async for event in self._reload():
            yield event

    # --- deleting -----------------------------------------------------------------------

    def _close_delete(self) -> None:
        self.deleting_kind = self.deleting_id = ""
        self.deleting_title = self.deleting_question = self.deleting_warning = ""

    @rx.event
    def ask_delete(self, kind: str, entry_id: str) -> None:
        """"Supprimer": open the confirmation."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        item = next((i for i in getattr(self, spec.var) if i.id == entry_id), None)
        if item is None:
            return
        self.deleting_kind, self.deleting_id = kind, entry_id
        self.deleting_title = item.title
        self.deleting_question = spec.delete_question
        self.deleting_warning = spec.delete_warning
        self.info = ""

    @rx.event
    def cancel_delete(self) -> None:
        self._close_delete()

    @rx.event
    def delete_dialog_changed(self, is_open: bool) -> None:
        """The confirmation closed by Escape or a click outside: as "Annuler"."""
        if not is_open:
            self._close_delete()

    @rx.event
    async def confirm_delete(self) -> AsyncIterator[EventSpec | None]:
        spec = BY_KEY.get(self.deleting_kind)
        entry_id = self.deleting_id
        if spec is None or not entry_id or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        operations = OPERATIONS_BY_KIND[spec.key]
        variables = {} if spec.single else {"id": entry_id}
        self._close_delete()
        if self.form_kind == spec.key and (spec.single or self.form_entry_id == entry_id):
            self._close_form()
        self.deleting = True
        self.error = ""
        self.info = ""
        self.saved_kind = self.saved_message = ""
        yield
        try:
            data = await self._query(operations.delete, variables)
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = self._api_failed(exc)
            return
        finally:
            self.deleting = False
        result = data[operations.delete_field]
        if result.get("__typename") == "EntryDeleted":
            self.saved_kind, self.saved_message = spec.key, spec.deleted
        else:
            self.error = result_error(result)[1]
        async for event in self._reload():
            yield event

    # --- export -------------------------------------------------------------------------

    @rx.event
    async def export_fhir(self) -> AsyncIterator[EventSpec | None]:
        """"Exporter mon dossier (FHIR)": the whole record as a FHIR R4 Bundle, fetched here
        with the tab's token and given to the browser as a JSON file."""
        if self.exporting:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.exporting = True
        self.error = ""
        self.info = ""
        yield
        try:
            data = await api.execute(
                FHIR_EVERYTHING, token=self._api_token or None,
                headers=self._forwarded_headers(), http_timeout=EXPORT_TIMEOUT_SECONDS,
            )
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = self._api_failed(exc)
            return
        finally:
            self.exporting = False
        bundle = data.get("fhirEverything")
        if isinstance(bundle, str):  # a JSON scalar may arrive serialised
            try:
                bundle = json.loads(bundle)
            except ValueError:
                bundle = None
        if not isinstance(bundle, dict):
            self.error = EXPORT_EMPTY
            return
        self.info = exported_message(len(bundle.get("entry") or []))
        yield rx.download(
            data=json.dumps(bundle, ensure_ascii=False, indent=2),
            filename=EXPORT_FILENAME,
            mime_type=EXPORT_MIME_TYPE,
        )
