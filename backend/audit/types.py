"""GraphQL types of the access log the patient reads."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.audit import labels
from backend.audit.loaders import load_professionals
from backend.audit.models import AccessGround as AccessGroundModel
from backend.audit.models import AccessKind as AccessKindModel
from backend.audit.models import AccessLogEntry as AccessLogEntryModel
from backend.graphql_types import Choice, ProfessionalSummary
from backend.i18n import gettext

AccessKind = strawberry.enum(AccessKindModel, description="What kind of data was read.")
AccessGround = strawberry.enum(AccessGroundModel,
                               description="On which ground the reader could read.")


@strawberry.type(description="Who read: the professional (or account) at the time of reading.")
class AccessReader:
    account_id: strawberry.ID
    profession: str | None = strawberry.field(
        description="The profession when the entry was written.")
    app_id: strawberry.ID | None = strawberry.field(
        description="The catalogue app that read for me (ground APP), else null.")
    app_name: str | None = strawberry.field(
        description="That app's name when it read.")
    _professional_id: strawberry.Private[int | None]

    @strawberry.field(description="The professional as known today (null if not a "
                                  "professional).")
    async def professional(self, info: Info) -> ProfessionalSummary | None:
        if self._professional_id is None:
            return None
        pro = await info.context.loaders.get(load_professionals).load(self._professional_id)
        if pro is None:
            return None
        return ProfessionalSummary(
            id=strawberry.ID(str(pro.id)), rpps=pro.rpps, profession=pro.profession,
            specialty=pro.specialty, practice_name=pro.practice_name)


@strawberry.type(description="One read of my data by someone else.")
class AccessLogEntry:
    id: strawberry.ID
    seq: int = strawberry.field(description="Position in my log (1 = the first access).")
    at: datetime
    reader: AccessReader
    kind: AccessKind  # type: ignore[valid-type]
    section: str | None = strawberry.field(description="The profile section, for a profile "
                                                       "read.")
    document_id: strawberry.ID | None
    ground: AccessGround  # type: ignore[valid-type]

    @classmethod
    def from_model(cls, row: AccessLogEntryModel) -> AccessLogEntry:
        return cls(
            id=strawberry.ID(str(row.id)), seq=row.seq, at=row.created_at,
            reader=AccessReader(account_id=strawberry.ID(str(row.account_id)),
                                profession=row.profession,
                                app_id=strawberry.ID(str(row.app_id)) if row.app_id else None,
                                app_name=row.app_name,
                                _professional_id=row.professional_id),
            kind=AccessKindModel(row.kind), section=row.section,
            document_id=strawberry.ID(str(row.document_id)) if row.document_id else None,
            ground=AccessGroundModel(row.ground),
        )


@strawberry.type
class AccessLogEdge:
    cursor: str
    node: AccessLogEntry


@strawberry.type
class AccessLogPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class AccessLogConnection:
    edges: list[AccessLogEdge]
    page_info: AccessLogPageInfo
    total_count: int



# --- reference data (backend/schema.py's ReferenceData) --------------------------------------


@strawberry.type(description="A ground of access, as the patient and as the professional read "
                              "it.", directives=[app_scope(SAME_AS_PARENT)])
class AccessGroundInfo:
    value: AccessGround
    label: str = strawberry.field(description="For the patient, about who read their record.")
    professional_label: str = strawberry.field(
        description="For a professional, about their own access to a record.")


@strawberry.type
class AccessLogReferenceData:
    """The access log's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field(description="What was read, as the patient's access log says it.")
    def access_kinds(self) -> list[Choice[AccessKind]]:
        return [Choice(value=k, label=gettext(labels.ACCESS_KINDS[k])) for k in AccessKindModel]

    @strawberry.field
    def access_grounds(self) -> list[AccessGroundInfo]:
        return [AccessGroundInfo(value=g, label=gettext(labels.GROUNDS_FOR_PATIENT[g]),
                                 professional_label=gettext(labels.GROUNDS_FOR_PROFESSIONAL[g]))
                for g in AccessGroundModel]
