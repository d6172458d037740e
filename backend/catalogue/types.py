"""The public catalogue's GraphQL types: what anyone may read of a referenced app. Never its
redirect URIs, client type, status history or referencing checklist (operators' side)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.app_scopes import ANY_APP, SAME_AS_PARENT, app_scope
from backend.catalogue import services
from backend.catalogue.labels import CATEGORIES
from backend.catalogue.models import CatalogueApp as CatalogueAppModel
from backend.catalogue.models import Category
from backend.catalogue.scopes import LABELS as SCOPE_LABELS
from backend.catalogue.scopes import Scope
from backend.i18n import gettext

AppCategory = strawberry.enum(Category, name="AppCategory",
                              description="The catalogue's categories of health apps.")


@strawberry.type(description="A category with its label in the request's language.",
                 directives=[app_scope(SAME_AS_PARENT)])
class CatalogueCategory:
    value: AppCategory
    label: str

    @classmethod
    def of(cls, category: Category) -> CatalogueCategory:
        return cls(value=category, label=gettext(CATEGORIES[category]))


@strawberry.type(description="A part of the record an app asks to read or write, in plain "
                              "words; an optional one can be refused by the patient.",
                 directives=[app_scope(SAME_AS_PARENT)])
class CatalogueScope:
    scope: str = strawberry.field(description="The OAuth scope, e.g. `profile:read`.")
    label: str
    optional: bool


@strawberry.type(description="A health app referenced in Carnet's catalogue.",
                 directives=[app_scope(ANY_APP)])
class CatalogueApp:
    id: strawberry.ID
    name: str
    publisher: str
    description: str
    categories: list[CatalogueCategory]
    logo_url: str | None
    website_url: str
    privacy_policy_url: str
    scopes: list[CatalogueScope]
    referenced_at: datetime

    @classmethod
    def from_model(cls, row: CatalogueAppModel) -> CatalogueApp:
        assert row.referenced_at is not None  # only referenced apps are public
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, publisher=row.publisher,
            description=row.description,
            categories=[CatalogueCategory.of(c) for c in services.categories_of(row)],
            logo_url=row.logo_url, website_url=row.website_url,
            privacy_policy_url=row.privacy_policy_url,
            scopes=[CatalogueScope(scope=s["scope"], label=gettext(SCOPE_LABELS[Scope(s["scope"])]),
                                   optional=bool(s["optional"])) for s in row.scopes],
            referenced_at=row.referenced_at,
        )


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class CatalogueAppEdge:
    cursor: str
    node: CatalogueApp


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class CataloguePageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Referenced apps by name (Relay connection).",
                 directives=[app_scope(SAME_AS_PARENT)])
class CatalogueAppConnection:
    edges: list[CatalogueAppEdge]
    page_info: CataloguePageInfo

    @classmethod
    def from_page(cls, page: services.Page) -> CatalogueAppConnection:
        edges = [CatalogueAppEdge(cursor=services.encode_cursor(row),
                                  node=CatalogueApp.from_model(row)) for row in page.items]
        return cls(edges=edges, page_info=CataloguePageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None))


@strawberry.type
class CatalogueReferenceData:
    """The catalogue's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field(description="The catalogue's categories, with their labels.")
    def app_categories(self) -> list[CatalogueCategory]:
        return [CatalogueCategory.of(c) for c in Category]

    @strawberry.field(description="Every scope an app may ask for, with its label "
                                  "(`optional` is false here).")
    def app_scopes(self) -> list[CatalogueScope]:
        return [CatalogueScope(scope=s.value, label=gettext(SCOPE_LABELS[s]), optional=False)
                for s in Scope]
