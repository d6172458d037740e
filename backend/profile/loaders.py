"""Batch loads for the profile screens (one query per relation per request).

Authors use the records domain's professional loader (the same DataLoader per request, so
documents and profile entries share one batch); data keys are cached per request by
`services.KeyRing`.
"""

from backend.records.loaders import load_professionals

__all__ = ["load_professionals"]
