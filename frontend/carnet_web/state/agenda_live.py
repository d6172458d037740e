"""The live loop both agendas share (the patient's /agenda and the professional's /pro/agenda):
while the page is open, every `agendaChanged` event (or a reconnection, since what changed
meanwhile is not replayed) reads the page's query again and applies it.

A function rather than a base state: each page's state calls it from its own background event
(`follow_agenda`), handing itself over; it uses the state's `_live_generation`, `live_status`,
`error`, `_api_token`, `_forwarded_headers`, `_variables`, `_apply`, `_expired` and `_t`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

from reflex.event import EventSpec

from carnet_web import live
from carnet_web.i18n import N_
from carnet_web.state.messaging import quiet_call

LIVE_ENDED: Final = N_("Les mises à jour en direct sont interrompues : rechargez la page.")


def _still_here(state: Any, generation: int, route: str) -> bool:
    return (state._live_generation == generation
            and str(state.router.url.path or "").rstrip("/") == route)


async def follow(state: Any, *, route: str, subscription: Any, query: Any, what: str
                 ) -> AsyncIterator[EventSpec | None]:
    """The body of a background event: runs while `route` is open in this tab and no newer
    loop started (a reload, another visit)."""
    async with state:
        state._live_generation += 1
        generation = state._live_generation
        token = state._api_token
        headers = state._forwarded_headers()
        if not token:
            return
        state.live_status = "connecting"
    async with live.listening(subscription, {}, field="agendaChanged", token=token,
                              headers=headers) as feed:
        while not feed.ended:
            events = await feed.next_batch()
            refresh = False
            redirect: EventSpec | None = None
            async with state:
                if not _still_here(state, generation, route):
                    return
                for event in events:
                    if isinstance(event, live.Received):
                        refresh = True
                    elif isinstance(event, live.Connected):
                        # What changed between loading and subscribing is not replayed.
                        refresh = refresh or state.live_status != "live"
                        state.live_status = "live"
                    elif isinstance(event, live.Disconnected):
                        state.live_status = "reconnecting"
                    elif isinstance(event, live.Ended):
                        if event.reason == live.ENDED_UNAUTHENTICATED:
                            redirect = state._expired()
                            break
                        state.live_status = "ended"
                        state.error = state._t(LIVE_ENDED)
                variables = state._variables()
            if redirect is not None:
                yield redirect
                return
            if not refresh:
                continue
            answer = await quiet_call(query, variables, token=token, headers=headers, what=what)
            async with state:
                if not _still_here(state, generation, route):
                    return
                if answer.expired:
                    redirect = state._expired()
                elif answer.data is not None:
                    state._apply(answer.data)
            if redirect is not None:
                yield redirect
                return
