"""One module per page; importing this package registers every page with Reflex."""

from carnet_web.pages import (
    agenda,
    documents,
    home,
    login,
    messages,
    pro_identity,
    pro_patients,
    pro_psc,
    pro_record,
    profile,
    sessions,
)

__all__ = ["agenda", "documents", "home", "login", "messages", "pro_identity", "pro_patients",
           "pro_psc", "pro_record", "profile", "sessions"]
