"""The agenda's calendar endpoints (iCalendar, backend/agenda/calendar.py).

- `GET /agenda/{id}.ics`: one appointment, for the signed-in patient it belongs to (the
  session of the authentication middleware, as the document download), with its reason and
  notes (the patient's own download). Someone else's appointment, a malformed or unknown id,
  and a caller who is not a patient all get the same 404; no session, 401.
- `GET /agenda/feed/{token}.ics`: the patient's subscription feed, for calendar apps (no
  session: the token is the credential, backend/agenda/feeds.py). Unknown, malformed and
  revoked tokens get the same 404. The reason is in it only if the patient opted in. Its
  last use is written at most once an hour.

Both answer `text/calendar; charset=utf-8`, never cached by shared caches
(`Cache-Control: private, no-store`), never sniffed, and without a referrer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.access.authentication import route_scope, signed_in
from backend.agenda import calendar, feeds
from backend.agenda.models import Appointment
from backend.agenda.sealing import DetailsReader
from backend.app_scopes import AGENDA_READ
from backend.errors import NOT_AUTHENTICATED_MESSAGE
from backend.i18n import N_, gettext

NOT_FOUND = N_("Rendez-vous introuvable.")
FEED_NOT_FOUND = N_("Agenda introuvable.")
# Appointments in one feed at most (beyond, the farthest ones are left out).
FEED_MAX_EVENTS = 2000

HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _not_found(message: str = NOT_FOUND) -> Response:
    return JSONResponse({"error": "not_found", "message": gettext(message)}, status_code=404,
                        headers=HEADERS)


def _ics(body: bytes, *, filename: str | None = None) -> Response:
    headers = dict(HEADERS)
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, media_type=calendar.CONTENT_TYPE, headers=headers)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@route_scope(AGENDA_READ)
async def appointment_ics(request: Request) -> Response:
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "unauthenticated",
                             "message": gettext(NOT_AUTHENTICATED_MESSAGE)}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer", **HEADERS})
    session = user.session
    appointment_id = _uuid(request.path_params["id"])
    if not session.is_patient or appointment_id is None:
        return _not_found()
    # The patient's own appointment or nothing: the filter names the session's person.
    appointment = await Appointment.filter(id=appointment_id, person_id=session.person_id) \
        .select_related("professional").first()
    if appointment is None:
        return _not_found()
    details = await DetailsReader(request.app.state.runtime.settings).details(appointment)
    body = calendar.calendar(
        [calendar.Entry(appointment, details, appointment.professional)], calendar.Detail.FULL)
    return _ics(body, filename="rendez-vous.ics")


async def feed_ics(request: Request, now: datetime | None = None) -> Response:
    settings = request.app.state.runtime.settings
    feed = await feeds.feed_by_token(settings, request.path_params["token"])
    if feed is None:
        return _not_found(FEED_NOT_FOUND)
    now = now or datetime.now(UTC)
    since = now - timedelta(days=settings.agenda_feed_past_days)
    appointments = await Appointment.filter(person_id=feed.person_id, end_at__gte=since) \
        .select_related("professional").order_by("start_at", "id").limit(FEED_MAX_EVENTS)
    reader = DetailsReader(settings)
    entries = [calendar.Entry(a, await reader.details(a), a.professional)
               for a in appointments]
    detail = calendar.Detail.REASON if feed.include_reason else calendar.Detail.NONE
    body = calendar.calendar(entries, detail, feed=True)
    await feeds.touch(feed, now)
    return _ics(body, filename="carnet.ics")
