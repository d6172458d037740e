"""Live updates from the Carnet API: its GraphQL subscriptions, for Reflex background events.

How a page uses it (see `carnet_web.state.messaging`, and /work/shared/notes/reflex-live.md
for why it is built this way):

- The page's `on_load` chains a background event (`@rx.event(background=True)`). Reflex
  cancels it when the tab goes to another page, reloads or disconnects.
- That handler opens `listening(...)`: a child asyncio task (`follow`) runs the subscription
  over a WebSocket (gql `WebsocketsTransport`, graphql-transport-ws subprotocol, the session
  token in `connection_init`), inside a reconnect loop with capped exponential backoff and
  jitter, always re-subscribing from the cursor of the last item it received, so nothing is
  lost or repeated across reconnections. While the tab is in someone else's space, the
  `Carnet-Space` of its headers goes in `connection_init` too (`init_payload`): the socket
  acts in that space, as every HTTP call of the tab does. It puts what happens on an
  `asyncio.Queue`: `Received(item)`, `Connected()`, `Disconnected()`, and finally
  `Ended(reason)` when retrying cannot help (session revoked or expired: close code 4403 or
  UNAUTHENTICATED; the API refused the subscription itself, e.g. a conversation I am not part
  of, or a part of someone's space I was not given: a delegation revoked meanwhile closes the
  socket with 4410, and the reconnection is refused so).
- The handler takes batches with `Feed.next_batch()` (at most one second of waiting, so it
  regularly gets a chance to notice it has been superseded) and applies them inside
  `async with self:`. A generation counter in the state, bumped at each start, tells an older
  handler to stop. The page de-duplicates items by their id (the same message can also arrive
  as the answer of a mutation, or again after a reconnection).

Cursors are the API's opaque strings: `follow` only passes back the last one it received. It
never decodes or compares them (the API sends items in order).

Never put a timeout directly on gql's async iterator: it cancels the subscription. The queue
is what the handler waits on.

The token stays in the Reflex backend: the browser never opens this WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
)
from gql.transport.websockets import WebsocketsTransport

from carnet_web import api

log = logging.getLogger("carnet_web.live")
# At DEBUG, websockets logs every frame: the session token (connection_init) and message
# bodies (health data). gql's own DEBUG logs are already silenced by `carnet_web.api`.
logging.getLogger("websockets").setLevel(logging.INFO)

#: The API closes a subscription socket with this code when its session is revoked, and
#: refuses `connection_init` with it when the token is no longer valid.
SESSION_CLOSED_CODE: Final = 4403
#: A socket in someone else's space whose delegation was revoked or ended is closed with this
#: one: not a sign-out; the reconnection is answered as the space now allows (refused).
SPACE_CLOSED_CODE: Final = 4410
#: connection_init names the space the tab is in with this key (the HTTP header's spelling).
SPACE_HEADER: Final = "Carnet-Space"
SPACE_KEY: Final = SPACE_HEADER.lower()
CONNECT_TIMEOUT_SECONDS: Final = 5.0
ACK_TIMEOUT_SECONDS: Final = 5.0
CLOSE_TIMEOUT_SECONDS: Final = 1.0
#: A connection that stayed up this long (or delivered something) resets the backoff.
STABLE_AFTER_SECONDS: Final = 10.0

# Why a subscription ended for good (`Ended.reason`).
ENDED_UNAUTHENTICATED: Final = "unauthenticated"
ENDED_REFUSED: Final = "refused"


# --- what the queue carries ----------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One item of the subscription (the field's value, e.g. a Message as a dict)."""

    item: Mapping[str, Any]

    @property
    def cursor(self) -> str:
        return str(self.item.get("cursor") or "")


@dataclass(frozen=True)
class Connected:
    """Subscribed (after the API acknowledged the connection)."""


@dataclass(frozen=True)
class Disconnected:
    """The connection dropped or could not be made; `follow` retries after `retry_in` s."""

    retry_in: float = 0.0


@dataclass(frozen=True)
class Ended:
    """Retrying cannot help: `reason` is ENDED_UNAUTHENTICATED or ENDED_REFUSED."""

    reason: str
    detail: str = ""


Event = Received | Connected | Disconnected | Ended


# --- backoff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: first, doubling, capped; with jitter (each delay
    drawn in [delay * (1 - jitter), delay]) so that many tabs do not reconnect in step after
    the API restarts."""

    first: float = 0.5
    cap: float = 5.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.cap, self.first * (2 ** min(attempt, 30)))
        return base * (1 - self.jitter * rand())


# --- the subscription task -----------------------------------------------------------------


def ws_url(url: str | None = None) -> str:
    """The API's WebSocket address: 'http://h:8000/graphql' -> 'ws://h:8000/graphql'."""
    parts = urlsplit(url or api.api_url())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class SubscribeOnce(Protocol):
    """Open one connection and subscription: yield None once the API has acknowledged the
    connection, then each result's `data`, until the subscription ends or fails."""

    def __call__(
        self, request: GraphQLRequest, *, url: str, token: str, headers: Mapping[str, str]
    ) -> AsyncIterator[Mapping[str, Any] | None]: ...


async def gql_subscribe_once(
    request: GraphQLRequest, *, url: str, token: str, headers: Mapping[str, str]
) -> AsyncIterator[Mapping[str, Any] | None]:
    """One WebSocket connection to the API (graphql-transport-ws), one subscription."""
    transport = WebsocketsTransport(
        url=url,
        headers={k: v for k, v in headers.items()
                 if k.lower() not in ("authorization", SPACE_KEY)} or None,
        ssl=url.startswith("wss:"),
        init_payload=init_payload(token, headers),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        ack_timeout=ACK_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield None  # connected: the API accepted the session token
        async for data in session.subscribe(request):
            yield data


def init_payload(token: str, headers: Mapping[str, str]) -> dict[str, str]:
    """connection_init's payload: the session token, and the space the tab is in (the API
    reads a socket's space there, not from the handshake's headers: `Carnet-Space`, as the
    header `_forwarded_headers` puts on every call while in someone else's space)."""
    payload = {"Authorization": f"Bearer {token}"}
    space = next((v for k, v in headers.items() if k.lower() == SPACE_KEY), "")
    if space:
        payload[SPACE_HEADER] = space
    return payload


def close_code(exc: BaseException) -> int | None:
    """The WebSocket close code behind a gql transport error, if it says one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for attribute in ("rcvd", "sent"):  # websockets.exceptions.ConnectionClosed
            frame = getattr(current, attribute, None)
            code = getattr(frame, "code", None)
            if isinstance(code, int):
                return code
        code = getattr(current, "code", None)  # gql's TransportServerError for 4xxx closes
        if isinstance(code, int) and code >= 4000:
            return code
        current = current.__cause__ or current.__context__
    return None


def _error_codes(exc: TransportQueryError) -> list[str]:
    return [
        str((error.get("extensions") or {}).get("code", ""))
        for error in (exc.errors or [])
        if isinstance(error, dict)
    ]


async def follow(
    document: GraphQLRequest,
    variables: Mapping[str, Any],
    *,
    field: str,
    token: str,
    queue: asyncio.Queue[Event],
    cursor: str | None = None,
    cursor_variable: str = "after",
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    backoff: Backoff = Backoff(),
    subscribe_once: SubscribeOnce = gql_subscribe_once,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] | None = None,
) -> None:
    """Follow one subscription for as long as it is useful; put what happens on `queue`.

    Each connection subscribes with `variables` plus `cursor_variable` = the cursor of the
    last item received (or `cursor` at first), so a reconnection resumes exactly where the
    previous one stopped. Returns after putting `Ended(...)`; cancel the task to stop earlier.
    """
    target = ws_url(url)
    now = clock or asyncio.get_running_loop().time
    attempt = 0
    while True:
        connected_at: float | None = None
        delivered = False
        values = {**variables, cursor_variable: cursor or None}
        results = subscribe_once(
            GraphQLRequest(document, variable_values=values),
            url=target, token=token, headers=headers or {},
        )
        try:
            # aclosing: the WebSocket closes now when this task stops, not at garbage collection.
            async with contextlib.aclosing(results):  # type: ignore[type-var]
                async for data in results:
                    if data is None:
                        if connected_at is None:
                            connected_at = now()
                            await queue.put(Connected())
                        continue
                    item = data.get(field) if isinstance(data, Mapping) else None
                    if not isinstance(item, Mapping):
                        continue
                    cursor = str(item.get("cursor") or cursor or "") or None
                    delivered = True
                    await queue.put(Received(item))
            # The API ended the subscription (e.g. while closing a revoked session's socket):
            # reconnect; if the session is gone, the API says so then.
        except asyncio.CancelledError:
            raise
        except TransportQueryError as exc:
            codes = _error_codes(exc)
            reason = ENDED_UNAUTHENTICATED if "NOT_AUTHENTICATED" in codes else ENDED_REFUSED
            log.info("subscription %s refused by the API (%s)", field, ",".join(codes) or "-")
            await queue.put(Ended(reason, detail=str(exc)))
            return
        except (TransportError, OSError, TimeoutError) as exc:
            if close_code(exc) == SESSION_CLOSED_CODE:
                log.info("subscription %s: session closed by the API", field)
                await queue.put(Ended(ENDED_UNAUTHENTICATED, detail="close 4403"))
                return
            kind = type(exc).__name__
            if not isinstance(exc, TransportConnectionFailed | TransportClosed):
                kind = f"{kind}: {exc}"
            log.info("subscription %s disconnected (%s)", field, kind)
        except Exception:  # a bug must not end live updates for good: log, retry later
            log.exception("subscription %s failed unexpectedly", field)
        stable = connected_at is not None and (
            delivered or now() - connected_at >= STABLE_AFTER_SECONDS
        )
        attempt = 0 if stable else attempt + 1
        delay = backoff.delay(max(0, attempt - 1))
        await queue.put(Disconnected(retry_in=delay))
        await sleep(delay)


# --- for the background event handler ------------------------------------------------------


@dataclass
class Feed:
    """The receiving end of `listening()`."""

    queue: asyncio.Queue[Event]
    task: asyncio.Task[None]
    _ended: bool = field(default=False, init=False)

    @property
    def ended(self) -> bool:
        """The subscription task has stopped (after `Ended`, or by cancellation or crash) and
        everything it queued has been taken."""
        return self._ended

    async def next_batch(self, wait: float = 1.0) -> list[Event]:
        """What arrived within `wait` seconds (waiting for the first one only), then
        everything already queued behind it; [] when nothing came."""
        batch: list[Event] = []
        with contextlib.suppress(TimeoutError):
            batch.append(await asyncio.wait_for(self.queue.get(), wait))
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        if self.task.done() and self.queue.empty():
            self._ended = True
        return batch


@contextlib.asynccontextmanager
async def listening(
    document: GraphQLRequest,
    variables: Mapping[str, Any],
    *,
    field: str,
    token: str,
    cursor: str | None = None,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    subscribe_once: SubscribeOnce = gql_subscribe_once,
    backoff: Backoff = Backoff(),
) -> AsyncIterator[Feed]:
    """Run `follow(...)` in a child task for the duration of the block; its WebSocket is
    closed when the block exits (normally, by an exception, or by cancellation)."""
    queue: asyncio.Queue[Event] = asyncio.Queue()
    task = asyncio.create_task(
        follow(document, variables, field=field, token=token, queue=queue, cursor=cursor,
               headers=headers, url=url, subscribe_once=subscribe_once, backoff=backoff),
        name=f"carnet-live-{field}",
    )
    try:
        yield Feed(queue, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
