"""Document types: the DMP list (JDV_J66), identified by LOINC codes, with French labels
(msgids: translate them where they are shown, `gettext(DocumentType.X.label)`)."""

from enum import Enum

from backend.i18n import N_


class DocumentType(Enum):
    CONSULTATION_REPORT = "11488-4"
    DISCHARGE_LETTER = "11490-0"
    HOSPITAL_REPORT = "34112-3"
    LAB_REPORT = "11502-2"
    IMAGING_REPORT = "18748-4"
    PATHOLOGY_REPORT = "11526-1"
    OPERATIVE_REPORT = "34874-8"
    EMERGENCY_REPORT = "15507-7"
    DELIVERY_REPORT = "15508-5"
    CARE_EPISODE_SUMMARY = "34133-9"
    MEDICAL_RECORD_SUMMARY = "60591-5"
    PRESCRIPTION_HEALTH_PRODUCTS = "57833-6"
    CARE_PRESCRIPTION = "57832-8"
    DISPENSING = "60593-1"
    VACCINATION_HISTORY = "11369-6"
    VITAL_SIGNS = "29274-8"
    MEDICATION_REVIEW = "56445-0"
    MULTIDISCIPLINARY_MEETING = "34794-8"
    CARE_PLAN = "18776-5"

    @property
    def loinc(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return LABELS[self]

    @classmethod
    def from_loinc(cls, code: str) -> "DocumentType | None":
        try:
            return cls(code)
        except ValueError:
            return None


LABELS: dict[DocumentType, str] = {
    DocumentType.CONSULTATION_REPORT: N_("Compte rendu de consultation"),
    DocumentType.DISCHARGE_LETTER: N_("Lettre de liaison de sortie"),
    DocumentType.HOSPITAL_REPORT: N_("Compte rendu d'hospitalisation"),
    DocumentType.LAB_REPORT: N_("Compte rendu de biologie"),
    DocumentType.IMAGING_REPORT: N_("Compte rendu d'imagerie"),
    DocumentType.PATHOLOGY_REPORT: N_("Compte rendu d'anatomopathologie"),
    DocumentType.OPERATIVE_REPORT: N_("Compte rendu opératoire"),
    DocumentType.EMERGENCY_REPORT: N_("Compte rendu de passage aux urgences"),
    DocumentType.DELIVERY_REPORT: N_("Compte rendu d'accouchement"),
    DocumentType.CARE_EPISODE_SUMMARY: N_("Synthèse d'épisode de soins"),
    DocumentType.MEDICAL_RECORD_SUMMARY: N_("Synthèse médicale"),
    DocumentType.PRESCRIPTION_HEALTH_PRODUCTS: N_("Prescription de produits de santé"),
    DocumentType.CARE_PRESCRIPTION: N_("Prescription de soins"),
    DocumentType.DISPENSING: N_("Dispensation"),
    DocumentType.VACCINATION_HISTORY: N_("Historique des vaccinations"),
    DocumentType.VITAL_SIGNS: N_("Signes vitaux"),
    DocumentType.MEDICATION_REVIEW: N_("Bilan de médication"),
    DocumentType.MULTIDISCIPLINARY_MEETING: N_("Compte rendu de réunion de concertation"),
    DocumentType.CARE_PLAN: N_("Plan personnalisé de soins"),
}
