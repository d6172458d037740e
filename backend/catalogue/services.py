"""Catalogue rules: what a submitted app must be, its status machine, the public listing.

Submission (`submit`): every field is checked before anything is written (an invalid app
creates nothing); the error names the JSON key (`InvalidApp.field`). Status changes
(`change_status`):

    submitted  -> referenced   (needs every Criterion checked)
    referenced -> suspended
    suspended  -> referenced   (needs every Criterion checked)
    any        -> withdrawn    (final: nothing leaves it)

Each change locks the app's row, updates it and appends its CatalogueStatusChange in ONE
transaction (the submission appends the first, "submitted"). `now` is always given by the
caller (the CLI passes the clock; tests a fixed time).

The public side (`page`, `referenced_by_ids`) reads referenced apps only: any other status
answers exactly like a missing app. Search is accent- and case-insensitive in both dialects:
`search_text` holds `normalise(name publisher description)` and each word of the query must
occur in it (LIKE, wildcards escaped by the ORM).
"""

from __future__ import annotations

import base64
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.catalogue.errors import (
    AppNotFound,
    CriteriaIncomplete,
    InvalidApp,
    TransitionRefused,
)
from backend.catalogue.models import (
    AppStatus,
    CatalogueApp,
    CatalogueAppCategory,
    CatalogueStatusChange,
    Category,
    ClientType,
    Criterion,
)
from backend.catalogue.scopes import KNOWN as KNOWN_SCOPES
from backend.i18n import N_
from backend.text import clean_label, clean_text

MAX_PAGE = 50
MAX_SEARCH_WORDS = 10
MAX_URL = 500
MAX_REDIRECT_URIS = 10
LIMITS = {"name": 100, "publisher": 200, "description": 2000, "reason": 1000, "operator": 100}
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
FIELDS = ("name", "publisher", "description", "categories", "logoUrl", "websiteUrl",
          "privacyPolicyUrl", "scopes", "redirectUris", "clientType", "criteria")
REQUIRED = frozenset(FIELDS) - {"logoUrl", "criteria"}

# target status -> the statuses it may be reached from
TRANSITIONS: dict[AppStatus, frozenset[AppStatus]] = {
    AppStatus.REFERENCED: frozenset({AppStatus.SUBMITTED, AppStatus.SUSPENDED}),
    AppStatus.SUSPENDED: frozenset({AppStatus.REFERENCED}),
    AppStatus.WITHDRAWN: frozenset({AppStatus.SUBMITTED, AppStatus.REFERENCED,
                                    AppStatus.SUSPENDED}),
}


def normalise(text: str) -> str:
    """Lower case, accents removed, whitespace collapsed: "Santé  Poids" -> "sante poids"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


# --- submission ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppInput:
    name: str
    publisher: str
    description: str
    categories: list[Category]
    logo_url: str | None
    website_url: str
    privacy_policy_url: str
    scopes: list[dict[str, Any]]
    redirect_uris: list[str]
    client_type: ClientType
    criteria: list[Criterion]


def _text(data: Mapping[str, Any], key: str, *, multiline: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidApp(key, N_("Texte attendu."))
    cleaned = clean_text(value) if multiline else clean_label(value)
    limit = LIMITS[key]
    if not cleaned or len(cleaned) > limit:
        raise InvalidApp(key, N_("De 1 à {limit} caractères."), limit=limit)
    return cleaned


def _https_url(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise InvalidApp(key, N_("Adresse https:// attendue (au plus {limit} caractères)."),
                         limit=MAX_URL)
    parts = _parts(key, value)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidApp(key, N_("Adresse https:// attendue (au plus {limit} caractères)."),
                         limit=MAX_URL)
    return value


def _parts(key: str, value: str) -> Any:
    if any(char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in value):
        raise InvalidApp(key, N_("Adresse invalide."))
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidApp(key, N_("Adresse invalide.")) from None
    if parts.username is not None or parts.password is not None:
        raise InvalidApp(key, N_("Adresse invalide."))
    return parts


def _redirect_uri(key: str, value: Any) -> str:
    """An exact redirect URI: https, or http on localhost/127.0.0.1 only (native apps and
    development); no fragment (RFC 6749 §3.1.2), no wildcard."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise InvalidApp(key, N_("Adresse de redirection invalide."))
    parts = _parts(key, value)
    if "#" in value:
        raise InvalidApp(key, N_("Une adresse de redirection ne peut pas contenir de "
                                 "fragment (#)."))
    if "*" in value or not parts.hostname:
        raise InvalidApp(key, N_("Adresse de redirection invalide."))
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return value
    raise InvalidApp(key, N_("Adresse de redirection en https://, ou en http:// sur localhost "
                             "ou 127.0.0.1 seulement."))


def _list(data: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> list[Any]:
    value = data.get(key, [] if allow_empty else None)
    if not isinstance(value, list) or (not value and not allow_empty):
        raise InvalidApp(key, N_("Liste non vide attendue."))
    return value


def _enum_items(key: str, values: Sequence[Any], enum: type[Any]) -> list[Any]:
    found: list[Any] = []
    known = {member.value for member in enum}
    for index, value in enumerate(values):
        where = f"{key}[{index}]"
        if not isinstance(value, str) or value not in known:
            raise InvalidApp(where, N_("Valeur inconnue ; valeurs possibles : "
                                                   "{choices}."),
                             choices=", ".join(sorted(known)))
        if enum(value) in found:
            raise InvalidApp(where, N_("Valeur en double."))
        found.append(enum(value))
    return found


def _scopes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    scopes: list[dict[str, Any]] = []
    for index, item in enumerate(_list(data, "scopes")):
        key = f"scopes[{index}]"
        if not isinstance(item, dict) or set(item) - {"scope", "optional"}:
            raise InvalidApp(key, N_("Objet attendu avec « scope » (texte) et, au choix, "
                                     "« optional » (true ou false)."))
        scope, optional = item.get("scope"), item.get("optional", False)
        at_scope, at_optional = f"{key}.scope", f"{key}.optional"
        if not isinstance(scope, str) or scope not in KNOWN_SCOPES:
            raise InvalidApp(at_scope, N_("Valeur inconnue ; valeurs possibles : "
                                                "{choices}."),
                             choices=", ".join(sorted(KNOWN_SCOPES)))
        if not isinstance(optional, bool):
            raise InvalidApp(at_optional, N_("true ou false attendu."))
        if any(s["scope"] == scope for s in scopes):
            raise InvalidApp(at_scope, N_("Valeur en double."))
        scopes.append({"scope": scope, "optional": optional})
    return scopes


def validate(data: Any) -> AppInput:
    """The app described by a submitted JSON object, or InvalidApp naming the first bad key
    (in FIELDS order)."""
    if not isinstance(data, dict):
        raise InvalidApp("(fichier)", N_("Un objet JSON est attendu."))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidApp(unknown[0], N_("Champ inconnu ; champs possibles : {choices}."),
                         choices=", ".join(FIELDS))
    for key in FIELDS:
        if key in REQUIRED and key not in data:
            raise InvalidApp(key, N_("Champ obligatoire."))
    name = _text(data, "name")
    publisher = _text(data, "publisher")
    description = _text(data, "description", multiline=True)
    categories = _enum_items("categories", _list(data, "categories"), Category)
    logo = data.get("logoUrl")
    logo_url = None if logo is None else _https_url("logoUrl", logo)
    website_url = _https_url("websiteUrl", data["websiteUrl"])
    privacy_policy_url = _https_url("privacyPolicyUrl", data["privacyPolicyUrl"])
    scopes = _scopes(data)
    uris = _list(data, "redirectUris")
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidApp("redirectUris", N_("Au plus {limit} adresses."),
                         limit=MAX_REDIRECT_URIS)
    redirect_uris: list[str] = []
    for index, uri in enumerate(uris):
        where = f"redirectUris[{index}]"
        checked = _redirect_uri(where, uri)
        if checked in redirect_uris:
            raise InvalidApp(where, N_("Valeur en double."))
        redirect_uris.append(checked)
    client_type = data["clientType"]
    if client_type not in {c.value for c in ClientType}:
        raise InvalidApp("clientType", N_("Valeur inconnue ; valeurs possibles : {choices}."),
                         choices=", ".join(c.value for c in ClientType))
    criteria = _enum_items("criteria", _list(data, "criteria", allow_empty=True), Criterion)
    return AppInput(name=name, publisher=publisher, description=description,
                    categories=categories, logo_url=logo_url, website_url=website_url,
                    privacy_policy_url=privacy_policy_url, scopes=scopes,
                    redirect_uris=redirect_uris, client_type=ClientType(client_type),
                    criteria=criteria)


def checked_criteria(values: Sequence[str], key: str = "criteria") -> list[Criterion]:
    return _enum_items(key, list(values), Criterion)


def _operator(operator: str) -> str:
    cleaned = clean_label(operator)
    if not cleaned or len(cleaned) > LIMITS["operator"]:
        raise InvalidApp("operator", N_("De 1 à {limit} caractères."), limit=LIMITS["operator"])
    return cleaned


def _reason(reason: str) -> str:
    cleaned = clean_text(reason)
    if not cleaned or len(cleaned) > LIMITS["reason"]:
        raise InvalidApp("reason", N_("De 1 à {limit} caractères."), limit=LIMITS["reason"])
    return cleaned


def _ordered(criteria: Sequence[Criterion]) -> list[str]:
    return [c.value for c in Criterion if c in criteria]


async def submit(data: Any, *, operator: str, now: datetime,
                 reason: str = "Soumission") -> CatalogueApp:
    """Create a submitted app from its JSON description (all checked first), with its first
    history row, in one transaction."""
    app = validate(data)
    who, why = _operator(operator), _reason(reason)
    async with in_transaction():
        row = await CatalogueApp.create(
            id=uuid.uuid4(), name=app.name, publisher=app.publisher,
            description=app.description, logo_url=app.logo_url, website_url=app.website_url,
            privacy_policy_url=app.privacy_policy_url, scopes=app.scopes,
            redirect_uris=app.redirect_uris, client_type=app.client_type,
            status=AppStatus.SUBMITTED, criteria=_ordered(app.criteria),
            search_text=normalise(f"{app.name} {app.publisher} {app.description}"),
            sort_key=normalise(app.name)[:100], created_at=now, updated_at=now)
        await CatalogueAppCategory.bulk_create(
            [CatalogueAppCategory(app=row, category=c) for c in app.categories])
        await CatalogueStatusChange.create(app=row, status=AppStatus.SUBMITTED, changed_at=now,
                                           reason=why, operator=who, criteria=row.criteria)
    return row


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# Status changes that stop the patients' grants: in the security trail.
AUDITED_CHANGES = {AppStatus.SUSPENDED: AuditKind.APP_SUSPENDED,
                   AppStatus.WITHDRAWN: AuditKind.APP_WITHDRAWN}


async def change_status(app_id: str, target: AppStatus, *, reason: str, operator: str,
                        now: datetime, criteria: Sequence[str] = ()) -> CatalogueApp:
    """Move an app to `target` (see the machine above); `criteria` are added to its checklist
    (referencing needs all of them). The row is locked for the change and its history row."""
    if target not in TRANSITIONS:
        raise TransitionRefused("?", target.value)
    why, who = _reason(reason), _operator(operator)
    added = checked_criteria(criteria)
    pk = parse_id(app_id)
    if pk is None:
        raise AppNotFound()
    async with in_transaction():
        row = await CatalogueApp.filter(id=pk).select_for_update().first()
        if row is None:
            raise AppNotFound()
        if row.status not in TRANSITIONS[target]:
            raise TransitionRefused(row.status.value, target.value)
        checklist = [Criterion(c) for c in row.criteria]
        checklist += [c for c in added if c not in checklist]
        if target is AppStatus.REFERENCED:
            missing = [c.value for c in Criterion if c not in checklist]
            if missing:
                raise CriteriaIncomplete(missing)
            row.referenced_at = now
        row.status, row.criteria, row.updated_at = target, _ordered(checklist), now
        await row.save(update_fields=["status", "criteria", "referenced_at", "updated_at"])
        await CatalogueStatusChange.create(app=row, status=target, changed_at=now, reason=why,
                                           operator=who, criteria=row.criteria)
        kind = AUDITED_CHANGES.get(target)
        if kind is not None:
            # One event for the app (no patient's account): how many patients' grants it
            # stops (backend/oauth's grants, read through the app's reverse relation).
            grants = await row.grants.filter(revoked_at__isnull=True).count()
            await audit.record(kind, account_id=None, outcome="success", app=str(row.id),
                               grants=grants)
    return row


async def history(app_id: str) -> list[CatalogueStatusChange]:
    pk = parse_id(app_id)
    if pk is None or not await CatalogueApp.exists(id=pk):
        raise AppNotFound()
    return list(await CatalogueStatusChange.filter(app_id=pk).order_by("changed_at", "id"))


async def list_apps(status: AppStatus | None = None) -> list[CatalogueApp]:
    """Operators: every app (or those with `status`), by name, with their categories."""
    query = CatalogueApp.all() if status is None else CatalogueApp.filter(status=status)
    return list(await query.order_by("sort_key", "id").prefetch_related("categories"))


# --- the public catalogue --------------------------------------------------------------------


def encode_cursor(row: CatalogueApp) -> str:
    raw = f"{row.sort_key}\x1f{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, ident = raw.split("\x1f", 1)
        return key, uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise InvalidApp("after", N_("Curseur invalide.")) from None


@dataclass(frozen=True)
class Page:
    items: list[CatalogueApp]
    has_next: bool


async def page(*, search: str | None = None, category: Category | None = None,
               first: int = 20, after: str | None = None) -> Page:
    """Referenced apps matching every word of `search` (name, publisher, description; accents
    and case ignored) and `category`, by name then id, `first` (1 to MAX_PAGE) after the
    cursor. Two statements: the page, then its categories."""
    if first < 1 or first > MAX_PAGE:
        raise InvalidApp("first", N_("De 1 à {limit} résultats par page."), limit=MAX_PAGE)
    query = CatalogueApp.filter(status=AppStatus.REFERENCED)
    words = normalise(search or "").split()
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidApp("search", N_("Au plus {limit} mots."), limit=MAX_SEARCH_WORDS)
    for word in words:
        query = query.filter(search_text__contains=word)
    if category is not None:
        query = query.filter(categories__category=category)
    position = decode_cursor(after)
    if position is not None:
        key, ident = position
        query = query.filter(Q(sort_key__gt=key) | (Q(sort_key=key) & Q(id__gt=ident)))
    rows = list(await query.order_by("sort_key", "id").limit(first + 1)
                .prefetch_related("categories"))
    return Page(items=rows[:first], has_next=len(rows) > first)


async def referenced_by_ids(ids: Sequence[uuid.UUID]) -> list[CatalogueApp | None]:
    """Batch load for DataLoaders: apps that are not referenced answer like missing ones."""
    rows = await CatalogueApp.filter(id__in=list(ids), status=AppStatus.REFERENCED
                                     ).prefetch_related("categories")
    found = {row.id: row for row in rows}
    return [found.get(i) for i in ids]


def categories_of(row: CatalogueApp) -> list[Category]:
    """The app's categories in the vocabulary's order (prefetched rows)."""
    present = {c.category for c in row.categories}
    return [c for c in Category if c in present]
