"""Delivery of short messages (login codes, "a new document is available", "a message is
waiting") by email (SMTP) or SMS (an HTTP webhook).

Messages may hold secrets (login codes) and destinations are personal data: neither ever goes
into a log line or an exception message. Failures surface as one typed error, `DeliveryFailed`,
logged with the type of the underlying error only.

Without a configured transport, development prints messages to stdout (that is how developers
get their login codes) and production refuses with `DeliveryUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from enum import StrEnum
from typing import Protocol

import aiosmtplib
import httpx

from backend.notifications.masking import mask_email, mask_phone
from backend.runtime import Notifier  # the port this module provides (re-exported)
from backend.settings import Settings

__all__ = [
    "Channel",
    "ChannelNotifier",
    "ConsoleTransport",
    "DeliveryFailed",
    "DeliveryUnavailable",
    "EmailTransport",
    "Notifier",
    "SmsTransport",
    "SmtpEmailTransport",
    "UnavailableTransport",
    "WebhookSmsTransport",
    "mask_email",
    "mask_phone",
    "notifier_from_settings",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
SMTPS_PORT = 465


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class DeliveryFailed(Exception):
    """A message could not be delivered. The message names the channel and the type of the
    underlying error, never the destination nor the text."""

    def __init__(self, channel: Channel | str, reason: str | None = None) -> None:
        self.channel = Channel(channel)
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(f"{self.channel.value} delivery failed{detail}")


class DeliveryUnavailable(DeliveryFailed):
    """No transport is configured for this channel, in production."""

    def __init__(self, channel: Channel | str, setting: str) -> None:
        super().__init__(channel, f"{setting} is not set")
        self.setting = setting


class EmailTransport(Protocol):
    async def send_email(self, to: str, subject: str, text: str) -> None: ...


class SmsTransport(Protocol):
    async def send_sms(self, to: str, text: str) -> None: ...


def _check_single_line(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{what} is empty")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must be a single line")
    return value


def _failed(channel: Channel, reason: str) -> DeliveryFailed:
    # A type name or a status only: SMTP and HTTP errors quote addresses, URLs, server replies.
    log.warning("%s delivery failed: %s", channel.value, reason)
    return DeliveryFailed(channel, reason)


class SmtpEmailTransport:
    """Email through an SMTP server (aiosmtplib), one connection per message.

    `starttls=True` requires STARTTLS (no plaintext fallback); port 465 means implicit TLS.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username or None
        self.password = password
        self.use_tls = port == SMTPS_PORT and not starttls
        self.starttls = starttls
        self.timeout = timeout
        # Per-command timeout above; this bounds the whole exchange (a slow-drip server).
        self.total_timeout = timeout * 3
        domain = parseaddr(sender)[1].rpartition("@")[2]
        self.msgid_domain = domain or "carnet.localhost"

    def build_message(self, to: str, subject: str, text: str) -> EmailMessage:
        to = _check_single_line(to, "recipient")
        if "@" not in to:
            raise ValueError("recipient is not an email address")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = _check_single_line(subject, "subject")
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.msgid_domain)
        msg["Auto-Submitted"] = "auto-generated"
        # Quoted-printable: 7-bit clean whatever the server's extensions.
        msg.set_content(text, charset="utf-8", cte="quoted-printable")
        return msg

    async def send_email(self, to: str, subject: str, text: str) -> None:
        message = self.build_message(to, subject, text)
        try:
            async with asyncio.timeout(self.total_timeout):
                await aiosmtplib.send(
                    message,
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=self.password if self.username else None,
                    use_tls=self.use_tls,
                    start_tls=self.starttls,
                    timeout=self.timeout,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _failed(Channel.EMAIL, type(exc).__name__) from None


class WebhookSmsTransport:
    """SMS through an HTTP gateway: POST {"to": ..., "text": ...} as JSON; 2xx means accepted."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self.total_timeout = timeout * 3
        # Built once: loading CA certificates blocks, and must not happen on every message.
        # (httpx would otherwise build a context per client, even for http:// URLs).
        self._ssl_context = httpx.create_ssl_context()

    async def send_sms(self, to: str, text: str) -> None:
        to = _check_single_line(to, "recipient")
        try:
            async with (
                asyncio.timeout(self.total_timeout),
                httpx.AsyncClient(
                    timeout=self.timeout,
                    verify=self._ssl_context,
                    follow_redirects=False,
                ) as client,
            ):
                response = await client.post(self.url, json={"to": to, "text": text})
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            raise _failed(Channel.SMS, type(exc).__name__) from None
        if not response.is_success:
            raise _failed(Channel.SMS, f"HTTP {response.status_code}")


class ConsoleTransport:
    """Development fallback: prints the message to stdout, never to the logs."""

    BANNER = "=" * 72

    def _print(self, lines: list[str]) -> None:
        print("\n".join([self.BANNER, *lines, self.BANNER]), file=sys.stdout, flush=True)

    async def send_email(self, to: str, subject: str, text: str) -> None:
        self._print(
            [
                "CARNET DEV EMAIL (SMTP_HOST is not set; printed, not sent)",
                f"To: {to}",
                f"Subject: {subject}",
                "",
                text,
            ]
        )

    async def send_sms(self, to: str, text: str) -> None:
        self._print(
            [
                "CARNET DEV SMS (SMS_WEBHOOK_URL is not set; printed, not sent)",
                f"To: {to}",
                "",
                text,
            ]
        )


class UnavailableTransport:
    """Production without a transport for a channel: every send raises DeliveryUnavailable."""

    async def send_email(self, to: str, subject: str, text: str) -> None:
        log.error("email delivery unavailable: SMTP_HOST is not set")
        raise DeliveryUnavailable(Channel.EMAIL, "SMTP_HOST")

    async def send_sms(self, to: str, text: str) -> None:
        log.error("sms delivery unavailable: SMS_WEBHOOK_URL is not set")
        raise DeliveryUnavailable(Channel.SMS, "SMS_WEBHOOK_URL")


class ChannelNotifier:
    """A Notifier made of one transport per channel."""

    def __init__(self, email: EmailTransport, sms: SmsTransport) -> None:
        self.email = email
        self.sms = sms

    async def send_email(self, to: str, subject: str, text: str) -> None:
        await self.email.send_email(to, subject, text)

    async def send_sms(self, to: str, text: str) -> None:
        await self.sms.send_sms(to, text)


def notifier_from_settings(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> Notifier:
    """SMTP if SMTP_HOST is set, the SMS webhook if SMS_WEBHOOK_URL is set; otherwise stdout in
    development and DeliveryUnavailable in production."""
    fallback: ConsoleTransport | UnavailableTransport = (
        UnavailableTransport() if settings.is_production else ConsoleTransport()
    )
    email: EmailTransport = fallback
    sms: SmsTransport = fallback
    if settings.smtp_host:
        transport = SmtpEmailTransport(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=timeout,
        )
        if (
            settings.is_production
            and transport.username
            and not (transport.starttls or transport.use_tls)
        ):
            log.warning(
                "SMTP credentials are configured without TLS (set SMTP_STARTTLS=true or use "
                "port 465): the password travels in clear"
            )
        email = transport
    if settings.sms_webhook_url:
        sms = WebhookSmsTransport(settings.sms_webhook_url, timeout=timeout)
    return ChannelNotifier(email, sms)
