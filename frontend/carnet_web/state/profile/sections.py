"""What each section of the profile is: its form's fields, its GraphQL type and mutations, its
wording (French msgids, translated where shown). Allergies, vaccinations, personal and family
history, treatments, measurements, emergency contacts, advance directives, organ donation.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from carnet_web.i18n import N_
from carnet_web.state.profile.labels import (
    ALLERGY_CATEGORIES,
    ALLERGY_KINDS,
    DEFAULT_MEASUREMENT,
    HISTORY_CATEGORIES,
    MEASUREMENT_KINDS,
    ORGAN_POSITIONS,
    RELATIVES,
    SEVERITIES,
    Choices,
)

MAX_SHORT: Final = 200  # the API's limits (backend/profile/services.py)
MAX_LONG: Final = 2000
MAX_DIRECTIVE: Final = 20000


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a form; `name` is the API input's field (and the form field's name)."""

    name: str
    label: str
    # 'text', 'textarea', 'tel', 'email', 'date', 'datetime', 'number', 'integer', 'select',
    # or 'document' (one of my documents, listed when the form opens).
    control: str = "text"
    required: bool = False
    choices: Choices = ()
    default: str = ""
    max_length: int = MAX_SHORT
    minimum: int = 0  # for 'integer'
    maximum: int = 0
    future_allowed: bool = False  # for 'date' (a treatment's planned end)
    hint: str = ""
    placeholder: str = ""
    # The measurement kinds this field is asked for ('' = every kind): the diastolic pressure
    # is a blood pressure's only.
    kinds: tuple[str, ...] = ()

    @property
    def multiline(self) -> bool:
        return self.control == "textarea"

    @property
    def chosen(self) -> bool:
        """A list to choose from (its value is kept in the state as it changes)."""
        return self.control in ("select", "document")

    def asked_for(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


def _notes(limit: int = MAX_LONG) -> FieldSpec:
    return FieldSpec("notes", N_("Notes"), "textarea", max_length=limit)


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
    added: str  # confirmations
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


_DELETE_WARNING: Final = N_("Cette action est définitive.")

ALLERGY: Final = KindSpec(
    key="allergy",
    title=N_("Allergies et intolérances"),
    description=N_("Ce à quoi vous réagissez : médicaments, aliments, pollens…"),
    type_name="Allergy",
    mutation="Allergy",
    input_type="AllergyInput",
    profile_field="allergies",
    selection="substance reaction severity since kind category notes",
    fields=(
        FieldSpec("substance", N_("Substance"), required=True,
                  placeholder=N_("Ex. : pénicilline, arachide")),
        FieldSpec("kind", N_("Type"), "select", required=True, choices=ALLERGY_KINDS,
                  default="ALLERGY"),
        FieldSpec("category", N_("Catégorie"), "select", choices=ALLERGY_CATEGORIES),
        FieldSpec("severity", N_("Sévérité de la réaction"), "select", choices=SEVERITIES),
        FieldSpec("reaction", N_("Réaction"), max_length=500,
                  placeholder=N_("Ex. : urticaire, œdème")),
        FieldSpec("since", N_("Depuis le"), "date"),
        _notes(),
    ),
    add_label=N_("Ajouter une allergie"),
    add_title=N_("Nouvelle allergie ou intolérance"),
    edit_title=N_("Modifier l'allergie ou l'intolérance"),
    empty=N_("Aucune allergie ni intolérance enregistrée."),
    added=N_("L'allergie a été ajoutée."),
    updated=N_("L'allergie a été modifiée."),
    deleted=N_("L'allergie a été supprimée."),
    delete_question=N_("Supprimer cette allergie ?"),
    delete_warning=_DELETE_WARNING,
)

VACCINATION: Final = KindSpec(
    key="vaccination",
    title=N_("Vaccinations"),
    description=N_("Vos vaccins, avec leur date et leur numéro de lot si vous l'avez."),
    type_name="Vaccination",
    mutation="Vaccination",
    input_type="VaccinationInput",
    profile_field="vaccinations",
    selection="vaccine date doseNumber batch vaccinator notes",
    fields=(
        FieldSpec("vaccine", N_("Vaccin"), required=True,
                  placeholder=N_("Ex. : DTP (diphtérie, tétanos, poliomyélite)")),
        FieldSpec("date", N_("Date de vaccination"), "date", required=True),
        FieldSpec("doseNumber", N_("Numéro de dose"), "integer", minimum=1, maximum=30),
        FieldSpec("batch", N_("Numéro de lot"), max_length=60),
        FieldSpec("vaccinator", N_("Vacciné par"),
                  placeholder=N_("Ex. : Dr Martin, pharmacie")),
        _notes(),
    ),
    add_label=N_("Ajouter une vaccination"),
    add_title=N_("Nouvelle vaccination"),
    edit_title=N_("Modifier la vaccination"),
    empty=N_("Aucune vaccination enregistrée."),
    added=N_("La vaccination a été ajoutée."),
    updated=N_("La vaccination a été modifiée."),
    deleted=N_("La vaccination a été supprimée."),
    delete_question=N_("Supprimer cette vaccination ?"),
    delete_warning=_DELETE_WARNING,
)

MEDICAL_HISTORY: Final = KindSpec(
    key="medical_history",
    title=N_("Antécédents personnels"),
    description=N_("Vos maladies et opérations, passées ou en cours."),
    type_name="MedicalHistoryEntry",
    mutation="MedicalHistory",
    input_type="MedicalHistoryInput",
    profile_field="medicalHistory",
    selection="condition category onset resolved active notes",
    fields=(
        FieldSpec("condition", N_("Maladie ou opération"), required=True,
                  placeholder=N_("Ex. : appendicectomie, asthme")),
        FieldSpec("category", N_("Nature"), "select", required=True,
                  choices=HISTORY_CATEGORIES, default="MEDICAL"),
        FieldSpec("onset", N_("Début"), "date"),
        FieldSpec("resolved", N_("Guérison"), "date"),
        _notes(),
    ),
    add_label=N_("Ajouter un antécédent"),
    add_title=N_("Nouvel antécédent"),
    edit_title=N_("Modifier l'antécédent"),
    empty=N_("Aucun antécédent enregistré."),
    added=N_("L'antécédent a été ajouté."),
    updated=N_("L'antécédent a été modifié."),
    deleted=N_("L'antécédent a été supprimé."),
    delete_question=N_("Supprimer cet antécédent ?"),
    delete_warning=_DELETE_WARNING,
)

FAMILY_HISTORY: Final = KindSpec(
    key="family_history",
    title=N_("Antécédents familiaux"),
    description=N_(
        "Les maladies de vos proches parents qui peuvent compter pour votre santé."),
    type_name="FamilyHistoryEntry",
    mutation="FamilyHistory",
    input_type="FamilyHistoryInput",
    profile_field="familyHistory",
    selection="relative condition ageAtOnset notes",
    fields=(
        FieldSpec("relative", N_("Lien de parenté"), "select", required=True,
                  choices=RELATIVES),
        FieldSpec("condition", N_("Maladie"), required=True,
                  placeholder=N_("Ex. : diabète de type 2")),
        FieldSpec("ageAtOnset", N_("Âge au début de la maladie"), "integer", minimum=0,
                  maximum=130),
        _notes(),
    ),
    add_label=N_("Ajouter un antécédent familial"),
    add_title=N_("Nouvel antécédent familial"),
    edit_title=N_("Modifier l'antécédent familial"),
    empty=N_("Aucun antécédent familial enregistré."),
    added=N_("L'antécédent familial a été ajouté."),
    updated=N_("L'antécédent familial a été modifié."),
    deleted=N_("L'antécédent familial a été supprimé."),
    delete_question=N_("Supprimer cet antécédent familial ?"),
    delete_warning=_DELETE_WARNING,
)

TREATMENT: Final = KindSpec(
    key="treatment",
    title=N_("Traitements"),
    description=N_("Les médicaments que vous prenez ou avez pris."),
    type_name="Treatment",
    mutation="Treatment",
    input_type="TreatmentInput",
    profile_field="treatments",
    selection="medication dose frequency startDate endDate prescriber current notes",
    fields=(
        FieldSpec("medication", N_("Médicament"), required=True,
                  placeholder=N_("Ex. : Lévothyrox 50 µg")),
        FieldSpec("dose", N_("Dose"), placeholder=N_("Ex. : 1 comprimé")),
        FieldSpec("frequency", N_("Fréquence"), placeholder=N_("Ex. : le matin à jeun")),
        FieldSpec("startDate", N_("Début"), "date"),
        FieldSpec("endDate", N_("Fin"), "date", future_allowed=True,
                  hint=N_("Laissez vide pour un traitement au long cours.")),
        FieldSpec("prescriber", N_("Prescrit par")),
        _notes(),
    ),
    add_label=N_("Ajouter un traitement"),
    add_title=N_("Nouveau traitement"),
    edit_title=N_("Modifier le traitement"),
    empty=N_("Aucun traitement enregistré."),
    added=N_("Le traitement a été ajouté."),
    updated=N_("Le traitement a été modifié."),
    deleted=N_("Le traitement a été supprimé."),
    delete_question=N_("Supprimer ce traitement ?"),
    delete_warning=_DELETE_WARNING,
)

#: The measurement form asks the fields of the chosen kind only (labels.MEASUREMENT_KINDS):
#: one value in its unit, or, for a blood pressure, the systolic and diastolic pressures.
MEASUREMENT: Final = KindSpec(
    key="measurement",
    title=N_("Mesures"),
    description=N_(
        "Poids, taille, tension… Les graphiques montrent leur évolution ; l'IMC est "
        "calculé à partir de chaque poids et de la dernière taille mesurée avant."
    ),
    type_name="Measurement",
    mutation="Measurement",
    input_type="MeasurementInput",
    profile_field="measurements",
    selection="kind label value diastolic unit unitLabel measuredAt notes bmi",
    fields=(
        FieldSpec("kind", N_("Type de mesure"), "select", required=True,
                  choices=tuple((spec.kind, spec.label) for spec in MEASUREMENT_KINDS),
                  default=DEFAULT_MEASUREMENT),
        # Labelled after the kind ('Poids (kg)', 'Pression systolique (mmHg)'...).
        FieldSpec("value", N_("Valeur"), "number", required=True),
        FieldSpec("diastolic", N_("Pression diastolique (mmHg)"), "number", required=True,
                  kinds=("BLOOD_PRESSURE",)),
        FieldSpec("measuredAt", N_("Date et heure de la mesure"), "datetime", required=True),
        _notes(500),
    ),
    add_label=N_("Ajouter une mesure"),
    add_title=N_("Nouvelle mesure"),
    edit_title=N_("Modifier la mesure"),
    empty=N_("Aucune mesure enregistrée."),
    added=N_("La mesure a été ajoutée."),
    updated=N_("La mesure a été modifiée."),
    deleted=N_("La mesure a été supprimée."),
    delete_question=N_("Supprimer cette mesure ?"),
    delete_warning=_DELETE_WARNING,
)

EMERGENCY_CONTACT: Final = KindSpec(
    key="emergency_contact",
    title=N_("Personnes à prévenir"),
    description=N_("Qui prévenir en cas d'urgence."),
    type_name="EmergencyContact",
    mutation="EmergencyContact",
    input_type="EmergencyContactInput",
    profile_field="emergencyContacts",
    selection="name relationship phone email notes",
    fields=(
        FieldSpec("name", N_("Nom"), required=True),
        FieldSpec("relationship", N_("Lien"), placeholder=N_("Ex. : conjoint, fille, voisin")),
        FieldSpec("phone", N_("Téléphone"), "tel", max_length=30),
        FieldSpec("email", N_("Courriel"), "email", max_length=254),
        _notes(500),
    ),
    add_label=N_("Ajouter une personne à prévenir"),
    add_title=N_("Nouvelle personne à prévenir"),
    edit_title=N_("Modifier la personne à prévenir"),
    empty=N_("Aucune personne à prévenir enregistrée."),
    added=N_("La personne à prévenir a été ajoutée."),
    updated=N_("La personne à prévenir a été modifiée."),
    deleted=N_("La personne à prévenir a été supprimée."),
    delete_question=N_("Supprimer cette personne à prévenir ?"),
    delete_warning=_DELETE_WARNING,
)

ADVANCE_DIRECTIVE: Final = KindSpec(
    key="advance_directive",
    title=N_("Directives anticipées"),
    description=N_(
        "Vos volontés sur les soins en fin de vie, pour le cas où vous ne pourriez plus "
        "les exprimer : un texte, un document de votre dossier, ou les deux."
    ),
    type_name="AdvanceDirective",
    mutation="AdvanceDirective",
    input_type="AdvanceDirectiveInput",
    profile_field="advanceDirective",
    selection="text documentId",
    fields=(
        FieldSpec("text", N_("Mes directives"), "textarea", max_length=MAX_DIRECTIVE),
        FieldSpec("documentId", N_("Document de mon dossier"), "document"),
    ),
    add_label=N_("Rédiger mes directives anticipées"),
    add_title=N_("Mes directives anticipées"),
    edit_title=N_("Modifier mes directives anticipées"),
    empty=N_("Vous n'avez pas rédigé de directives anticipées."),
    added=N_("Vos directives anticipées ont été enregistrées."),
    updated=N_("Vos directives anticipées ont été modifiées."),
    deleted=N_("Vos directives anticipées ont été supprimées."),
    delete_question=N_("Supprimer vos directives anticipées ?"),
    delete_warning=N_("Le document joint, s'il y en a un, reste dans votre dossier."),
    single=True,
)

ORGAN_DONATION: Final = KindSpec(
    key="organ_donation",
    title=N_("Don d'organes"),
    description=N_(
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
        FieldSpec("position", N_("Ma position"), "select", required=True,
                  choices=ORGAN_POSITIONS),
        FieldSpec("note", N_("Note"), "textarea"),
    ),
    add_label=N_("Indiquer ma position"),
    add_title=N_("Ma position sur le don d'organes"),
    edit_title=N_("Modifier ma position sur le don d'organes"),
    empty=N_("Vous n'avez pas indiqué de position."),
    added=N_("Votre position sur le don d'organes a été enregistrée."),
    updated=N_("Votre position sur le don d'organes a été modifiée."),
    deleted=N_("Votre position sur le don d'organes a été retirée."),
    delete_question=N_("Retirer votre position sur le don d'organes ?"),
    delete_warning=N_("Vous pourrez en indiquer une de nouveau à tout moment."),
    single=True,
)

#: Every section, in the page's order.
KINDS: Final = (ALLERGY, VACCINATION, MEDICAL_HISTORY, FAMILY_HISTORY, TREATMENT, MEASUREMENT,
                EMERGENCY_CONTACT, ADVANCE_DIRECTIVE, ORGAN_DONATION)
BY_KEY: Final = {spec.key: spec for spec in KINDS}
