"""Batch loads for the record screens (one query per relation per request)."""

from backend.records.services import professionals_by_ids

load_professionals = professionals_by_ids
