"""Per-request GraphQL context: runtime services, the caller, a request id and DataLoaders."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from backend.i18n import DEFAULT_LOCALE
from backend.runtime import Runtime

K = TypeVar("K")
V = TypeVar("V")


class Viewer(Protocol):
    """Whoever is calling; the identity domain provides the concrete type."""

    account_id: int
    role: str


class Loaders:
    """One DataLoader per batch function, created lazily and living for one request only,
    so a cache never leaks data between callers."""

    def __init__(self) -> None:
        self._loaders: dict[Callable[..., Any], DataLoader[Any, Any]] = {}

    def get(self, batch: Callable[[Sequence[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
        loader = self._loaders.get(batch)
        if loader is None:
            loader = DataLoader(load_fn=batch)  # type: ignore[arg-type]
            self._loaders[batch] = loader
        return loader


def new_request_id() -> str:
    return secrets.token_hex(8)


@dataclass
class Context:
    runtime: Runtime
    request: Request | WebSocket
    response: Response | None = None
    request_id: str = field(default_factory=new_request_id)
    viewer: Viewer | None = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    # The language of the answers ("fr", "en"): the request's Accept-Language; on a websocket,
    # the handshake's or connection_init's `language` (backend/graphql_view.py).
    locale: str = DEFAULT_LOCALE

    @property
    def settings(self):  # noqa: ANN201 - Settings, imported lazily to keep this module light
        return self.runtime.settings

    @property
    def client_address(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"
