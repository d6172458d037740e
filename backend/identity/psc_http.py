"""HTTP endpoints of the Pro Santé Connect login (the browser's side of backend.identity.psc).

- `GET /auth/psc/login?binding=`: redirects to the provider's authorization endpoint, and sets
  a short-lived cookie (HttpOnly, SameSite=Lax, path /auth/psc) binding the login to this
  browser. `binding` (required) is the SHA-256 of a secret the web app keeps for the tab
  that starts the login; the ticket only opens a session for whoever shows that secret.
- `GET /auth/psc/callback?code=&state=`: the provider's redirect back. On success, redirects to
  PSC_POST_LOGIN_URL with a one-time `ticket` (valid TICKET_TTL_SECONDS), which the web app
  exchanges for a session with GraphQL `exchangeLoginTicket`: no session token ever travels in
  a URL. On refusal, a page (or JSON, for clients that ask for it) with a 4xx status, in the
  browser's language (Accept-Language; French by default).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from backend.i18n import N_, current_locale, gettext
from backend.identity import psc

COOKIE_PATH = "/auth/psc"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")

_PAGE = """<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
color:#1b1b1b}}h1{{font-size:1.4rem}}a{{color:#000091}}</style></head>
<body><main><h1>{heading}</h1>
<p>{message}</p>{back}</main></body>
</html>
"""
PAGE_TITLE = N_("Connexion refusée · Carnet")
PAGE_HEADING = N_("Connexion avec Pro Santé Connect impossible")
BACK_LINK = N_("Revenir à Carnet")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _front_origin(request: Request) -> str | None:
    url = request.app.state.runtime.settings.psc_post_login_url
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def refusal(request: Request, error: psc.PscError) -> Response:
    headers = dict(NO_STORE)
    if isinstance(error, psc.PscRateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if _wants_json(request):
        code = error.reason.removeprefix("psc:")
        response: Response = JSONResponse({"error": code, "message": error.translated()},
                                          status_code=error.status, headers=headers)
    else:
        origin = _front_origin(request)
        back = (f'<p><a href="{escape(origin)}">{escape(gettext(BACK_LINK))}</a></p>'
                if origin else "")
        page = _PAGE.format(lang=current_locale(), title=escape(gettext(PAGE_TITLE)),
                            heading=escape(gettext(PAGE_HEADING)),
                            message=escape(error.translated()), back=back)
        response = HTMLResponse(page, status_code=error.status,
                                headers={**headers, "Content-Security-Policy": PAGE_CSP})
    response.delete_cookie(psc.BROWSER_COOKIE, path=COOKIE_PATH)
    return response


def _with_ticket(url: str, ticket: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"ticket": ticket})))


async def psc_login(request: Request) -> Response:
    runtime = request.app.state.runtime
    settings = runtime.settings
    redirect_uri = settings.psc_redirect_uri or str(request.url_for("psc_callback"))
    try:
        start = await psc.start_login(runtime, redirect_uri=redirect_uri,
                                      address=_address(request),
                                      tab_binding=request.query_params.get("binding"))
    except psc.PscError as exc:
        return refusal(request, exc)
    response = RedirectResponse(start.url, status_code=302, headers=NO_STORE)
    response.set_cookie(
        psc.BROWSER_COOKIE, start.browser_binding, max_age=start.ttl, path=COOKIE_PATH,
        httponly=True, samesite="lax",
        secure=settings.is_production or redirect_uri.startswith("https://"),
    )
    return response


async def psc_callback(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        ticket = await psc.finish_login(
            runtime, params=request.query_params,
            browser_binding=request.cookies.get(psc.BROWSER_COOKIE),
            address=_address(request),
        )
    except psc.PscError as exc:
        return refusal(request, exc)
    target = _with_ticket(str(runtime.settings.psc_post_login_url), ticket)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.delete_cookie(psc.BROWSER_COOKIE, path=COOKIE_PATH)
    return response
