"""Signing in through the real login pages, with the code read from a real SMTP server
(aiosmtpd; the `mailbox` fixture in conftest.py, wired to the API by a module's `api_env`)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import Envelope
from playwright.async_api import Page, expect

from tests.browser.reflex_app import WebApp
from tests.factories import PASSWORD, create_patient
from tests.servers import free_port

# The first load of a page compiles its modules in Vite dev mode: give it time.
FIRST_LOAD_TIMEOUT = 90_000
CODE_RE = re.compile(r"\b(\d{6})\b")


class Mailbox:
    """An SMTP handler keeping every message it receives (called from aiosmtpd's thread)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self._messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for m in self._messages if m["To"] == address]

    async def next_code(self, address: str, *, seen: int = 0, timeout: float = 15.0) -> str:
        """The code in the first message to `address`, after the `seen` first ones, that carries
        one. Event notices (a new message, a new document...) may arrive in between: they carry
        no code, by design, and are passed over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages_to(address)[seen:]:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                if match := CODE_RE.search(body.get_content()):
                    return match.group(1)
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no code in a message #{seen + 1}+ to {address} within {timeout}s")


async def new_patient() -> str:
    address = f"patient-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)
    return address


async def open_login_page(page: Page, web: WebApp) -> None:
    await page.goto(web.url + "/connexion")
    # Enabled once the tab is connected to its state: what is typed then is never lost.
    await expect(page.get_by_role("button", name="Continuer")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT
    )


async def submit_password(page: Page, identifier: str, password: str) -> None:
    await page.get_by_label("Identifiant").fill(identifier)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Continuer").click()


async def sign_in(page: Page, web: WebApp, mailbox: Mailbox, address: str, *,
                  password: str = PASSWORD, home: str = "/",
                  on_code_page: Callable[[], Awaitable[None]] | None = None) -> None:
    """Password, then the emailed code: this tab is signed in, on its home page (`/` for a
    patient, `/pro` for a professional). `on_code_page` runs on the code page, before the
    code is typed (e.g. to check it)."""
    seen = len(mailbox.messages_to(address))
    await open_login_page(page, web)
    await submit_password(page, address, password)
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address, seen=seen)
    if on_code_page is not None:
        await on_code_page()
    await page.get_by_label("Code à 6 chiffres").fill(code)
    await page.get_by_role("button", name="Valider").click()
    await expect(page).to_have_url(web.at(home), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)
