"""One module per page; importing this package registers every page with Reflex."""

from carnet_web.pages import (
    access_history,
    agenda,
    care_team,
    documents,
    home,
    login,
    messages,
    not_found,
    pro_identity,
    pro_patients,
    pro_psc,
    pro_record,
    profile,
    sessions,
)

__all__ = [
    "access_history",
    "agenda",
    "care_team",
    "documents",
    "home",
    "login",
    "messages",
    "not_found",
    "pro_identity",
    "pro_patients",
    "pro_psc",
    "pro_record",
    "profile",
    "sessions",
]
