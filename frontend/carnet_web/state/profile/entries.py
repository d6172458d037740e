"""How each entry of the profile is shown: a title, a badge, details, a longer text and who
added it when, all written in the tab's language (dates with state/formatting.py). Entries come
from people (me, professionals, imported files): they stay plain text."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from carnet_web.i18n import N_, gettext
from carnet_web.state.formatting import date_text, datetime_text, day_text, number_text
from carnet_web.state.profile.labels import (
    ALLERGY_CATEGORIES,
    ALLERGY_KINDS,
    HISTORY_CATEGORIES,
    ORGAN_POSITIONS,
    RELATIVES,
    SEVERITIES,
    choice_label,
)
from carnet_web.state.profile.measurements import measurement_title


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


def document_choice(node: Mapping[str, Any], language: str) -> DocumentChoice:
    day = day_text(str(node.get("clinicalDate") or ""), language)
    title = str(node["title"])
    label = gettext(language, "{title} ({date})", title=title, date=day) if day else title
    return DocumentChoice(id=str(node["id"]), label=label)


def author_label(author: Mapping[str, Any] | None, language: str = "fr") -> str:
    """'vous' for me, else the professional's profession."""
    author = author or {}
    if author.get("isPatient"):
        return gettext(language, "vous")
    profession = str(((author.get("professional") or {}).get("profession")) or "").strip()
    return profession or gettext(language, "un professionnel de santé")


def entry_meta(raw: Mapping[str, Any], language: str = "fr") -> str:
    """'Ajouté par vous le 1er mars 2026' / 'Added by you on 1 March 2026'."""
    day = date_text(str(raw.get("recordedAt") or ""), language)
    author = raw.get("author") or {}
    if author.get("isPatient"):
        return (gettext(language, "Ajouté par vous le {date}", date=day) if day
                else gettext(language, "Ajouté par vous"))
    who = author_label(author, language)
    return (gettext(language, "Ajouté par : {who} le {date}", who=who, date=day) if day
            else gettext(language, "Ajouté par : {who}", who=who))


def _detail(language: str, message: str, value: object) -> list[str]:
    """`message` with {value} filled, or nothing when the value is empty."""
    text = str(value or "").strip()
    return [gettext(language, message, value=text)] if text else []


def _day(language: str, message: str, value: object) -> list[str]:
    day = day_text(str(value or ""), language)
    return [gettext(language, message, date=day)] if day else []


def _allergy(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    details = [
        *_detail(language, N_("Catégorie : {value}"),
                 choice_label(ALLERGY_CATEGORIES, raw.get("category"), language)),
        *_detail(language, N_("Réaction : {value}"), raw.get("reaction")),
        *_detail(language, N_("Sévérité : {value}"),
                 choice_label(SEVERITIES, raw.get("severity"), language).lower()),
        *_day(language, N_("Depuis le {date}"), raw.get("since")),
    ]
    return (str(raw["substance"]), choice_label(ALLERGY_KINDS, raw.get("kind"), language),
            details)


def _vaccination(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    details = [
        *_day(language, N_("Le {date}"), raw.get("date")),
        *_detail(language, N_("Dose n° {value}"), raw.get("doseNumber")),
        *_detail(language, N_("Lot : {value}"), raw.get("batch")),
        *_detail(language, N_("Vacciné par : {value}"), raw.get("vaccinator")),
    ]
    return str(raw["vaccine"]), "", details


def _medical_history(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    details = [
        *_day(language, N_("Depuis le {date}"), raw.get("onset")),
        *_day(language, N_("Guéri le {date}"), raw.get("resolved")),
    ]
    if raw.get("active") and not day_text(str(raw.get("resolved") or ""), language):
        details.append(gettext(language, "En cours"))
    return (str(raw["condition"]), choice_label(HISTORY_CATEGORIES, raw.get("category"),
                                                language), details)


def _family_history(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    age = raw.get("ageAtOnset")
    details = _detail(language, "{value}", choice_label(RELATIVES, raw.get("relative"), language))
    if age is not None:
        message = N_("Âge au début : {n} an") if int(age) <= 1 else N_("Âge au début : {n} ans")
        details.append(gettext(language, message, n=int(age)))
    return str(raw["condition"]), "", details


def _treatment(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    start = day_text(str(raw.get("startDate") or ""), language)
    end = day_text(str(raw.get("endDate") or ""), language)
    if start and end:
        period = [gettext(language, "Du {start} au {end}", start=start, end=end)]
    elif start:
        period = [gettext(language, "Depuis le {date}", date=start)]
    elif end:
        period = [gettext(language, "Jusqu'au {date}", date=end)]
    else:
        period = []
    details = [
        *_detail(language, N_("Dose : {value}"), raw.get("dose")),
        *_detail(language, N_("Fréquence : {value}"), raw.get("frequency")),
        *period,
        *_detail(language, N_("Prescrit par : {value}"), raw.get("prescriber")),
    ]
    badge = gettext(language, N_("En cours") if raw.get("current") else N_("Terminé"))
    return str(raw["medication"]), badge, details


def _measurement(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    details = _detail(language, N_("Mesuré le {value}"),
                      datetime_text(str(raw.get("measuredAt") or ""), language))
    if raw.get("bmi") is not None:
        details.append(gettext(language, "IMC : {value}",
                               value=number_text(float(raw["bmi"]), language, digits=1)))
    return measurement_title(raw, language), "", details


def _emergency_contact(raw: Mapping[str, Any], language: str) -> tuple[str, str, list[str]]:
    details = [
        *_detail(language, "{value}", raw.get("relationship")),
        *_detail(language, N_("Téléphone : {value}"), raw.get("phone")),
        *_detail(language, N_("Courriel : {value}"), raw.get("email")),
    ]
    return str(raw["name"]), "", details


def _describe(key: str, raw: Mapping[str, Any], language: str
              ) -> tuple[str, str, list[str], str]:
    """(title, badge, details, long text) of one entry."""
    describe = {
        "allergy": _allergy, "vaccination": _vaccination, "medical_history": _medical_history,
        "family_history": _family_history, "treatment": _treatment,
        "measurement": _measurement, "emergency_contact": _emergency_contact,
    }.get(key)
    if describe is not None:
        title, badge, details = describe(raw, language)
        return title, badge, details, str(raw.get("notes") or "")
    if key == "advance_directive":
        details = ([gettext(language, "Un document de votre dossier est joint.")]
                   if raw.get("documentId") else [])
        return (gettext(language, "Mes directives anticipées"), "", details,
                str(raw.get("text") or ""))
    if key == "organ_donation":
        position = (choice_label(ORGAN_POSITIONS, raw.get("position"), language)
                    or gettext(language, "Position indiquée"))
        return position, "", [], str(raw.get("note") or "")
    raise ValueError(key)


def entry_item(key: str, raw: Mapping[str, Any], language: str = "fr") -> EntryItem:
    """One entry of section `key` as the page shows it, in `language`."""
    title, badge, details, text = _describe(key, raw, language)
    return EntryItem(id=str(raw["id"]), title=title, badge=badge, details=details, text=text,
                     meta=entry_meta(raw, language), imported=bool(raw.get("imported")))


def attached_document(found: Mapping[str, Any] | None, language: str) -> list[str]:
    """The details of my directives, once the document joined to them is known."""
    if found:
        return [gettext(language, "Document joint : « {title} »", title=str(found["title"]))]
    return [gettext(language, "Le document joint n'est plus dans votre dossier.")]
