"""Helpers of the sign-in, account and forgotten-password browser tests: a real SMS gateway
(the API's SMS_WEBHOOK_URL, keeping what it receives), the tab's language cookie, moving focus
with the Tab key only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.async_api import BrowserContext, Page

from tests.servers import free_port

CODE_RE = re.compile(r"\b(\d{6})\b")
LANGUAGE_COOKIE = "carnet_lang"


class SmsInbox:
    """An HTTP server standing for the SMS gateway: POST {"to": ..., "text": ...} is kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/sms"
        self._lock = threading.Lock()
        self._messages: list[dict[str, str]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with inbox._lock:
                    inbox._messages.append({"to": str(body.get("to")),
                                            "text": str(body.get("text"))})
                self.send_response(202)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    @contextlib.contextmanager
    def running(self) -> Iterator[SmsInbox]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def messages(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._messages)

    async def next_code(self, *, seen: int = 0, timeout: float = 15.0) -> tuple[str, str]:
        """(recipient, code) of the first SMS after the `seen` first ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.messages()
            if len(messages) > seen:
                match = CODE_RE.search(messages[seen]["text"])
                assert match, "no 6-digit code in the SMS"
                return messages[seen]["to"], match.group(1)
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no SMS #{seen + 1} within {timeout}s")


@contextlib.asynccontextmanager
async def language(context: BrowserContext, url: str, code: str) -> AsyncIterator[None]:
    """The browser's language cookie set to `code` (as the header's switch leaves it), then
    back to French, the default: the browser context is shared by every test (and a tab
    keeps the language it last read from the cookie, so removing it would not do)."""
    await context.add_cookies([{"name": LANGUAGE_COOKIE, "value": code, "url": url}])
    try:
        yield
    finally:
        await context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": url}])


async def focused_id(page: Page) -> str:
    return await page.evaluate("document.activeElement ? document.activeElement.id : ''")


async def tab_to(page: Page, element_id: str, *, limit: int = 40) -> None:
    """Press Tab (and nothing else) until the element with this id has the focus."""
    for _ in range(limit):
        if await focused_id(page) == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} never got the focus with Tab "
                         f"(last: #{await focused_id(page)})")

