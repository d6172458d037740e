"""The public catalogue: no sign-in needed; only referenced apps, any other status answers
exactly like a missing app."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.app_scopes import ANY_APP, app_scope
from backend.catalogue import services
from backend.catalogue.errors import InvalidApp
from backend.catalogue.loaders import load_referenced_apps
from backend.catalogue.models import Category
from backend.catalogue.types import AppCategory, CatalogueApp, CatalogueAppConnection
from backend.errors import PublicError


@strawberry.type
class CatalogueQueries:
    @strawberry.field(description="The catalogue of referenced health apps, by name: `search` "
                                  "matches every word in the name, publisher or description "
                                  "(accents and case ignored); `first` 1 to 50. Public.",
                      directives=[app_scope(ANY_APP)])
    async def catalogue(self, search: str | None = None, category: AppCategory | None = None,
                        first: int = 20, after: str | None = None) -> CatalogueAppConnection:
        try:
            page = await services.page(
                search=search, category=Category(category) if category else None,
                first=first, after=after)
        except InvalidApp as exc:
            # A query has no result union: a bad argument (page size, cursor) is public.
            raise PublicError(exc.translatable, code="BAD_USER_INPUT") from None
        return CatalogueAppConnection.from_page(page)

    @strawberry.field(description="One referenced app, or null (unknown, or not referenced). "
                                  "Public.", directives=[app_scope(ANY_APP)])
    async def catalogue_app(self, info: Info, id: strawberry.ID) -> CatalogueApp | None:
        pk = services.parse_id(id)
        if pk is None:
            return None
        row = await info.context.loaders.get(load_referenced_apps).load(pk)
        return CatalogueApp.from_model(row) if row else None
