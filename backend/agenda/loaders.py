"""Per-request caches of the agenda's reads.

A page of appointments costs a constant number of statements: the page itself joins each
appointment's professional (and, in a professional's views, its patient), and the data keys of
the page's free texts are read in one statement by the request's `KeyRing`, shared by every
agenda field of the request (services.KeyRing)."""

from __future__ import annotations

from typing import Any

from backend.agenda import services


def key_ring(context: Any) -> services.KeyRing:
    """The request's key ring (created on first use, living as long as the request)."""
    ring = getattr(context, "_agenda_key_ring", None)
    if ring is None:
        ring = services.KeyRing(context.settings)
        context._agenda_key_ring = ring
    return ring
