"""What every page's state shares: the API session of this browser tab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import reflex as rx
from gql import GraphQLRequest

from carnet_web import api


class SessionState(rx.State):
    """Base of every page state.

    `_api_token` is a backend-only var (leading underscore): it stays on the server and is never
    sent to the browser. Empty means anonymous.
    """

    _api_token: str = ""

    async def _query(
        self, document: GraphQLRequest, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL document for this tab (with its token, if any). Raises `api.ApiError`.

        Private (leading underscore), so Reflex does not turn it into an event handler.
        """
        return await api.execute(document, variables, token=self._api_token or None)
