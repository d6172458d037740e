"""One module per page; importing this package registers every page with Reflex."""

from carnet_web.pages import agenda, documents, home, login, messages, profile, sessions

__all__ = ["agenda", "documents", "home", "login", "messages", "profile", "sessions"]
