"""`agendaChanged`: live updates of my agenda (patient) or of my bookings (professional).

Writers announce after their commit, on the patient's channel and on the professional's
(services.announce), with only the appointment id and a kind: no health data goes through the
broker. Each event here re-reads the appointment with the subscriber's own scope, so the
payload holds exactly what that viewer may read (`appointment` null if they no longer may).

Pub/sub is at-most-once and graphql-transport-ws has no "subscribed" acknowledgement, so the
first event, once the broker subscription is registered, is RESYNC, and so is every event after
a broker reconnection: the client then reads its agenda again (`appointments`); nothing changed
before it is missed. A revoked session's sockets are closed by backend/live_sockets.py.

A carer in the patient's space (given the agenda) hears the patient's channel, read as the
patient's agenda; each event first checks that the delegation still holds (revoked or ended:
the subscription ends, nothing more is sent) and is in the patient's access log, as the
carer's reads over HTTP are.

An app with `agenda:read` (its access token in connection_init; without the scope the schema's
gate refuses the subscription with INSUFFICIENT_SCOPE) hears its patient's channel, read as the
patient's agenda; each event it is sent is in the patient's access log (ground APP, the app's
id and name), as its `appointments` reads are. A revoked grant or a suspended app stops the
socket's next operation and the sockets' sweep closes it (backend/oauth/bearer.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from backend.access import carers, policy
from backend.agenda import services
from backend.agenda.types import AgendaChange, AgendaChangeKind, Appointment
from backend.app_scopes import AGENDA_READ, app_scope
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.errors import NotAuthenticated

_KINDS = {k.value: k for k in AgendaChangeKind}


def _channel(viewer: policy.RecordViewer | None) -> tuple[str, services.Scope]:
    if isinstance(viewer, policy.PatientViewer | policy.AppViewer):
        return services.patient_channel(viewer.person_id), services.Scope.patient(
            viewer.person_id)
    if isinstance(viewer, policy.ProxyViewer):  # a carer in the patient's space
        return services.patient_channel(viewer.patient_id), services.Scope.patient(
            viewer.patient_id)
    if isinstance(viewer, policy.ProfessionalViewer):
        return (services.professional_channel(viewer.professional_id),
                services.Scope.professional(viewer.professional_id))
    raise NotAuthenticated()


@strawberry.type
class AgendaSubscriptions:
    @strawberry.subscription(description="Changes of my agenda (patient) or of my bookings "
                                          "(professional), live. The first event is RESYNC "
                                          "once the subscription is live (read the agenda "
                                          "then); RESYNC again after a reconnection.",
                             directives=[app_scope(AGENDA_READ)])
    async def agenda_changed(self, info: Info) -> AsyncGenerator[AgendaChange, None]:
        context = info.context
        if context.viewer is None:
            raise NotAuthenticated()
        viewer = policy.viewer_of(context.viewer)
        channel, scope = _channel(viewer)
        proxy = viewer if isinstance(viewer, policy.ProxyViewer) else None
        # Someone other than the patient reading the patient's agenda: each read is logged.
        delegated = viewer if isinstance(viewer, policy.ProxyViewer | policy.AppViewer) \
            else None
        # The broker's first delivery is a RESYNC once the subscription is live (its
        # contract, every backend): passed on as the first event.
        async with context.runtime.broker.subscribe(channel) as subscription:
            async for delivery in subscription:
                if delivery.resync or delivery.data is None:
                    yield AgendaChange(kind=AgendaChangeKind.RESYNC, appointment_id=None,
                                       appointment=None)
                    continue
                try:
                    event = json.loads(delivery.data)
                    kind = _KINDS[event["kind"]]
                    appointment_id = str(event["id"])
                except (ValueError, KeyError, TypeError):
                    continue
                now = services.clock()
                if proxy is not None and not await carers.grant_alive(proxy.grant_id, now):
                    return  # the patient revoked the carer, or the delegation ended
                # Read fresh, as this viewer may read it (a new ring: keys are per request).
                async with access_log.recording():
                    item = await services.readable(
                        context.settings, scope, appointment_id,
                        ring=services.KeyRing(context.settings),
                        now=now, with_patient=not scope.is_patient)
                    if delegated is not None and item is not None:
                        policy.log_read(policy.own_access(delegated), AccessKind.AGENDA)
                yield AgendaChange(
                    kind=kind, appointment_id=strawberry.ID(appointment_id),
                    appointment=Appointment.from_item(item) if item is not None else None)
