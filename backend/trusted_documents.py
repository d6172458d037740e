"""The web app's known operations ("trusted documents"): sha256 of the exact query text the web
app sends -> the constant's name in frontend/carnet_web. Only these may be answered from the
response cache (backend/response_cache.py).

The frontend is not importable from the backend (separate app, separate image), so the hashes
are kept here; tests/test_response_cache.py recomputes them from the frontend's constants and
fails (printing the new lines) when a query text changes without this table.
"""

from __future__ import annotations

TRUSTED_DOCUMENTS: dict[str, str] = {
    "bc0009372df5af0e4111893410764a9a496382752f47c20d56fc0d6ef950160c": "HOME_SIGNED_IN",
    "902ed42ea6355ffdddcb0a580df79cd4087789bb7bbd4366f138d2731f342265": "DOCUMENTS_PAGE",
    "87bef57a9597829050f3ebae311a2b9cd5d2bb6b789c9cb56ed3e46bc4833c1b": "PROFILE",
}
