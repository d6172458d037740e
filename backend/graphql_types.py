"""GraphQL types shared by several domains (a domain never imports another's `types.py`)."""

from __future__ import annotations

from datetime import date
from typing import Generic, TypeVar

import strawberry

from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.document_types import DocumentType as DocumentTypeModel


@strawberry.type(description="A health professional, as shown on documents they authored.",
                 directives=[app_scope(SAME_AS_PARENT)])
class ProfessionalSummary:
    id: strawberry.ID
    rpps: str
    profession: str
    specialty: str | None
    practice_name: str | None


# The INS traits that designate a patient (starting a conversation, adding to a profile).
@strawberry.input
class PatientIdentityInput:
    ins_matricule: str
    birth_name: str
    birth_date: date


# The DMP document types, shared by every domain that names them (records, access, messaging).
DocumentType = strawberry.enum(
    DocumentTypeModel, name="DocumentType",
    description="DMP document types (JDV_J66), by LOINC code.")


T = TypeVar("T")


@strawberry.type(description="A value of an enum with its label in the request's language (the "
                              "lists of `referenceData`).", directives=[app_scope(SAME_AS_PARENT)])
class Choice(Generic[T]):
    value: T
    label: str
