"""Facts about this Carnet instance, readable by anyone (no health data)."""

from __future__ import annotations

from urllib.parse import urljoin

import strawberry
from strawberry.types import Info

import backend
from backend.app_scopes import ANY_APP, app_scope


@strawberry.type(description="This Carnet instance.", directives=[app_scope(ANY_APP)])
class Platform:
    name: str
    version: str
    environment: str
    pro_sante_connect_login_url: str | None = strawberry.field(
        description="Where a professional's browser starts the Pro Santé Connect login "
                    "(GET /auth/psc/login); null when Pro Santé Connect is not configured.")


@strawberry.type
class SystemQueries:
    @strawberry.field(description="Name, version and environment of this instance.",
                      directives=[app_scope(ANY_APP)])
    def platform(self, info: Info) -> Platform:
        settings = info.context.settings
        return Platform(
            name="Carnet", version=backend.__version__, environment=settings.carnet_env.value,
            pro_sante_connect_login_url=_psc_login_url(info),
        )


def _psc_login_url(info: Info) -> str | None:
    """Next to the callback as browsers reach it (PSC_REDIRECT_URI, required in production);
    in development without it, as this request reached the API (as /auth/psc/login derives
    the callback)."""
    settings = info.context.settings
    if not settings.psc_enabled:
        return None
    if settings.psc_redirect_uri:
        return urljoin(settings.psc_redirect_uri, "login")
    return str(info.context.request.url_for("psc_login"))
