"""Document types: the DMP list (JDV_J66), identified by LOINC codes, with French labels."""

from enum import Enum


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
    DocumentType.CONSULTATION_REPORT: "Compte rendu de consultation",
    DocumentType.DISCHARGE_LETTER: "Lettre de liaison de sortie",
    DocumentType.HOSPITAL_REPORT: "Compte rendu d'hospitalisation",
    DocumentType.LAB_REPORT: "Compte rendu de biologie",
    DocumentType.IMAGING_REPORT: "Compte rendu d'imagerie",
    DocumentType.PATHOLOGY_REPORT: "Compte rendu d'anatomopathologie",
    DocumentType.OPERATIVE_REPORT: "Compte rendu opératoire",
    DocumentType.EMERGENCY_REPORT: "Compte rendu de passage aux urgences",
    DocumentType.DELIVERY_REPORT: "Compte rendu d'accouchement",
    DocumentType.CARE_EPISODE_SUMMARY: "Synthèse d'épisode de soins",
    DocumentType.MEDICAL_RECORD_SUMMARY: "Synthèse médicale",
    DocumentType.PRESCRIPTION_HEALTH_PRODUCTS: "Prescription de produits de santé",
    DocumentType.CARE_PRESCRIPTION: "Prescription de soins",
    DocumentType.DISPENSING: "Dispensation",
    DocumentType.VACCINATION_HISTORY: "Historique des vaccinations",
    DocumentType.VITAL_SIGNS: "Signes vitaux",
    DocumentType.MEDICATION_REVIEW: "Bilan de médication",
    DocumentType.MULTIDISCIPLINARY_MEETING: "Compte rendu de réunion de concertation",
    DocumentType.CARE_PLAN: "Plan personnalisé de soins",
}
