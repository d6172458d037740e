"""State of the catalogue of health apps (/catalogue) and of an app's page (/catalogue/<id>).

Public: no session needed (the API's `catalogue` and `catalogueApp` list referenced apps only).
The search box and the category filter ask the API again (its search ignores accents and
case); "Voir plus" reads the next page. Every value from the API is plain text. Logos are not
shown: loading them would tell the publisher's server who browses the catalogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import CATALOGUE_APP_ROUTE, catalogue_app_path
from carnet_web.routes import CATALOGUE_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import date_text
from carnet_web.state.session import SessionState, api_errors

PAGE_SIZE: Final = 20
SEARCH_FIELD_ID: Final = "catalogue-search"
CATEGORY_FIELD_ID: Final = "catalogue-category"
RESULTS_HEADING_ID: Final = "catalogue-results-heading"
APP_ID_PREFIX: Final = "catalogue-app-"  # + the app's id (its card)
MAX_SEARCH_LENGTH: Final = 100
MAX_SEARCH_WORDS: Final = 10  # the API's (backend/catalogue/services.py)

_CARD: Final = "id name publisher description categories { value label }"

CATALOGUE: Final = api.operation(
    f"""
    query Catalogue($search: String, $category: AppCategory, $first: Int!, $after: String) {{
      catalogue(search: $search, category: $category, first: $first, after: $after) {{
        edges {{ node {{ {_CARD} }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    """
)

APP_CATEGORIES: Final = api.operation(
    """
    query AppCategories {
      referenceData { appCategories { value label } }
    }
    """
)

CATALOGUE_APP: Final = api.operation(
    f"""
    query CatalogueAppPage($id: ID!) {{
      catalogueApp(id: $id) {{
        {_CARD} websiteUrl privacyPolicyUrl referencedAt
        scopes {{ scope label optional }}
      }}
    }}
    """
)

COUNT_NONE: Final = N_("Aucune application ne correspond à votre recherche.")
COUNT_EMPTY: Final = N_("Aucune application n'est référencée pour l'instant.")
COUNT_ONE: Final = N_("1 application")
COUNT_MANY: Final = N_("{count} applications")
COUNT_MORE: Final = N_("{count} applications affichées, d'autres suivent")


@dataclasses.dataclass(frozen=True)
class AppCard:
    id: str
    name: str
    publisher: str
    description: str
    categories: str  # 'Nutrition, Maladies chroniques'
    href: str


@dataclasses.dataclass(frozen=True)
class ScopeLine:
    scope: str
    label: str  # plain French (or English), from the API
    optional: bool


def app_card(node: Mapping[str, Any]) -> AppCard:
    return AppCard(
        id=str(node["id"]), name=str(node["name"]), publisher=str(node["publisher"]),
        description=str(node.get("description") or ""),
        categories=", ".join(str(c["label"]) for c in node.get("categories") or []),
        href=catalogue_app_path(str(node["id"])),
    )


def count_label(count: int, more: bool, searching: bool, language: str) -> str:
    """What the list holds, said once under the filters (a status for screen readers)."""
    if count == 0:
        return gettext(language, COUNT_NONE if searching else COUNT_EMPTY)
    if more:
        return gettext(language, COUNT_MORE, count=count)
    if count == 1:
        return gettext(language, COUNT_ONE)
    return gettext(language, COUNT_MANY, count=count)


def cleaned_search(value: object) -> str:
    """The words typed, spaces folded: at most MAX_SEARCH_WORDS words (the API refuses more)
    and MAX_SEARCH_LENGTH characters."""
    return " ".join(str(value or "").split()[:MAX_SEARCH_WORDS])[:MAX_SEARCH_LENGTH]


class CatalogueState(SessionState):
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    search: str = ""  # as last searched
    category: str = ""  # AppCategory value, '' for every category
    categories: list[list[str]] = []  # [value, label] pairs for the select
    apps: list[AppCard] = []
    has_more: bool = False
    count_text: str = ""
    _cursor: str = ""

    def _variables(self, after: str | None = None) -> dict[str, Any]:
        return {"search": self.search or None, "category": self.category or None,
                "first": PAGE_SIZE, "after": after}

    def _show(self, connection: Mapping[str, Any], *, append: bool) -> None:
        cards = [app_card(edge["node"]) for edge in connection["edges"]]
        self.apps = [*self.apps, *cards] if append else cards
        info = connection["pageInfo"]
        self.has_more = bool(info["hasNextPage"])
        self._cursor = str(info.get("endCursor") or "")
        self.count_text = count_label(len(self.apps), self.has_more,
                                      bool(self.search or self.category), self.lang)

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load: every app (the search box is drawn empty again)."""
        self.search = self.category = ""
        async for event in self.retry():
            yield event

    @rx.event
    @api_errors(error="error", busy="loading")
    async def retry(self) -> AsyncIterator[EventSpec | None]:
        """"Réessayer" (and the page load): the categories, then the first page."""
        self.loading = True
        self.error = ""
        yield
        if not self.categories:
            data = await self._query(APP_CATEGORIES)
            self.categories = [[str(c["value"]), str(c["label"])]
                               for c in data["referenceData"]["appCategories"]]
        data = await self._query(CATALOGUE, self._variables())
        self._show(data["catalogue"], append=False)

    @rx.event
    @api_errors(error="error", busy="loading")
    async def apply_search(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """The search form ("Rechercher", or Enter in the box)."""
        self.search = cleaned_search(form_data.get("search"))
        self.loading = True
        self.error = ""
        yield
        data = await self._query(CATALOGUE, self._variables())
        self._show(data["catalogue"], append=False)

    @rx.event
    @api_errors(error="error", busy="loading")
    async def set_category(self, value: str) -> AsyncIterator[EventSpec | None]:
        """The category select: the list follows at once."""
        known = {pair[0] for pair in self.categories}
        self.category = value if value in known else ""
        self.loading = True
        self.error = ""
        yield
        data = await self._query(CATALOGUE, self._variables())
        self._show(data["catalogue"], append=False)

    @rx.event
    @api_errors(error="error", busy="loading_more")
    async def load_more(self) -> AsyncIterator[EventSpec | None]:
        """"Voir plus": the next page; the keyboard moves to its first app."""
        if self.loading_more or not self.has_more or not self._cursor:
            return
        self.loading_more = True
        self.error = ""
        yield
        shown = len(self.apps)
        data = await self._query(CATALOGUE, self._variables(self._cursor))
        self._show(data["catalogue"], append=True)
        if len(self.apps) > shown:
            yield focus(APP_ID_PREFIX + self.apps[shown].id)


class CatalogueAppState(SessionState):
    """An app's page: what it is, who publishes it, and what it would ask of my record."""

    loading: bool = True
    error: str = ""
    missing: bool = False  # unknown, or no longer referenced (the API answers alike)
    shown_id: str = ""  # the app this state describes (the route's `app_id`)
    name: str = ""
    publisher: str = ""
    description: str = ""
    categories: str = ""
    website_url: str = ""
    privacy_policy_url: str = ""
    referenced_on: str = ""
    scopes: list[ScopeLine] = []

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        self.loading = True
        self.error = ""
        self.missing = False
        self.name = ""
        self.scopes = []
        self.shown_id = str(self.router.page.params.get("app_id") or "")
        yield
        data = await self._query(CATALOGUE_APP, {"id": self.shown_id})
        node = data["catalogueApp"]
        if not node:
            self.missing = True
            return
        card = app_card(node)
        self.name, self.publisher = card.name, card.publisher
        self.description, self.categories = card.description, card.categories
        self.website_url = safe_link(node.get("websiteUrl"))
        self.privacy_policy_url = safe_link(node.get("privacyPolicyUrl"))
        self.referenced_on = date_text(str(node.get("referencedAt") or ""), self.lang)
        self.scopes = [ScopeLine(scope=str(s["scope"]), label=str(s["label"]),
                                 optional=bool(s["optional"])) for s in node["scopes"]]


def safe_link(value: object) -> str:
    """An http(s) address to link to, or '' (never a javascript: or data: link)."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""


#: The route an app's page is registered under (pages/catalogue.py).
APP_ROUTE: Final = CATALOGUE_APP_ROUTE
