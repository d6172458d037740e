"""This process's open WebSockets by session, closed as soon as their session is revoked.

Revoking a session announces its id on the broker channel `sessions:revoked`. Every process
listens to it through its one broker subscription (fan-out in memory, see broker.py) and closes
its own sockets of that session with SESSION_CLOSED, so a revocation made through any worker
closes the sockets held by every worker at once.

Pub/sub is at-most-once, so announcements are not the only mechanism: every
WS_SESSION_CHECK_SECONDS, and whenever the broker says announcements may have been missed (its
resync after a Redis reconnection or a queue overflow), a sweep re-checks the session of every
open socket. Operations started on a socket check their session anyway (graphql_view.py).

Core module: it imports no domain; the app plugs in how to tell whether a session is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from backend.broker import Broker, Delivery
from backend.kv import KV_UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

# The close code of a socket whose session was revoked or expired (the web app signs out).
SESSION_CLOSED = 4403
SESSION_CLOSED_REASON = "Session revoked"
# The close code of a socket opened in someone else's space (a carer's) whose delegation was
# revoked or ended: the session lives on, so the client reconnects (and is refused the parts
# it lost) rather than signing out.
SPACE_CLOSED = 4410
SPACE_CLOSED_REASON = "Space access ended"
REVOKED_CHANNEL = "sessions:revoked"
# Sessions checked concurrently by a sweep.
SWEEP_BATCH = 100

IsAlive = Callable[[str], Awaitable[bool]]


class Closable(Protocol):
    async def close(self, code: int = ..., reason: str | None = ...) -> None: ...


async def announce_revoked(broker: Broker, session_ids: Iterable[str]) -> None:
    """Tell every process that these sessions are gone (after they were deleted).

    A failed announcement (Redis down) is not an error for the caller: the session is already
    revoked, each socket's next operation is refused, and the sweep closes the rest.
    """
    for session_id in session_ids:
        await broker.publish(REVOKED_CHANNEL, session_id)


async def close_socket(socket: Closable, *, space: bool = False) -> None:
    """Close with SESSION_CLOSED (the session is gone), or SPACE_CLOSED (`space`: only the
    delegation the socket was opened under is)."""
    code, reason = ((SPACE_CLOSED, SPACE_CLOSED_REASON) if space
                    else (SESSION_CLOSED, SESSION_CLOSED_REASON))
    with contextlib.suppress(Exception):  # already closed, or the client went away
        await socket.close(code=code, reason=reason)


class LiveSockets:
    """Registry of this process's authenticated sockets, keyed by session id (and, for a
    carer's socket in someone else's space, also by its delegation: `space=True`)."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[Closable]] = {}
        self._spaces: set[str] = set()  # the keys that name a delegation, not a session
        self.sweeps = 0

    def add(self, session_id: str, socket: Closable, *, space: bool = False) -> None:
        self._sockets.setdefault(session_id, set()).add(socket)
        if space:
            self._spaces.add(session_id)

    def discard(self, session_id: str, socket: Closable) -> None:
        sockets = self._sockets.get(session_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[session_id]
                self._spaces.discard(session_id)

    def count(self, session_id: str | None = None) -> int:
        if session_id is not None:
            return len(self._sockets.get(session_id, ()))
        return sum(len(s) for s in self._sockets.values())

    async def close_session(self, session_id: str) -> int:
        """Close every socket of this session held by this process; how many were closed."""
        sockets = self._sockets.pop(session_id, set())
        space = session_id in self._spaces
        self._spaces.discard(session_id)
        for socket in sockets:
            await close_socket(socket, space=space)
        if sockets:
            log.info("closed %d socket(s) of a revoked session", len(sockets))
        return len(sockets)

    async def sweep(self, is_alive: IsAlive) -> int:
        """Close the sockets of every session that is no longer alive (the fallback)."""
        self.sweeps += 1
        session_ids = list(self._sockets)
        closed = 0
        for start in range(0, len(session_ids), SWEEP_BATCH):
            batch = session_ids[start:start + SWEEP_BATCH]
            try:
                alive = await asyncio.gather(*(is_alive(s) for s in batch))
            except KV_UNAVAILABLE_ERRORS:
                # Redis is down: we cannot tell. Keep serving; operations are refused meanwhile
                # (they cannot authenticate) and the next sweep checks again.
                return closed
            for session_id, ok in zip(batch, alive, strict=True):
                if not ok:
                    closed += await self.close_session(session_id)
        return closed

    async def run(self, broker: Broker, is_alive: IsAlive, *, interval: float) -> None:
        """Listen for revocations and sweep every `interval` seconds, until cancelled."""
        while True:
            try:
                await self._listen(broker, is_alive, interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session revocation listener failed; restarting")
                await asyncio.sleep(1.0)

    async def _listen(self, broker: Broker, is_alive: IsAlive, interval: float) -> None:
        loop = asyncio.get_running_loop()
        async with broker.subscribe(REVOKED_CHANNEL) as subscription:
            next_sweep = loop.time() + interval
            # One pending get() kept across timeouts: cancelling it on a timeout could drop a
            # delivery it had just taken from the queue.
            getter: asyncio.Future[Delivery] | None = None
            try:
                while True:
                    if getter is None:
                        getter = asyncio.ensure_future(subscription.get())
                    await asyncio.wait({getter}, timeout=max(0.0, next_sweep - loop.time()))
                    must_sweep = loop.time() >= next_sweep
                    if getter.done():
                        delivery = getter.result()
                        getter = None
                        if delivery.data is not None:
                            await self.close_session(delivery.data)
                        if delivery.resync:
                            must_sweep = True
                    if must_sweep:
                        await self.sweep(is_alive)
                        next_sweep = loop.time() + interval
            finally:
                if getter is not None:
                    getter.cancel()
