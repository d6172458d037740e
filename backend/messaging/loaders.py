"""Batch loads for the messaging screens: one query per relation per request."""

from __future__ import annotations

from backend.messaging import services

load_accounts = services.accounts_by_ids
load_participants = services.participants_of
load_attachments = services.attachments_of
