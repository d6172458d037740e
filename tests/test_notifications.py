"""Notifications against real servers: an aiosmtpd SMTP server and an HTTP SMS gateway, both on
127.0.0.1. No PostgreSQL nor Redis needed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from backend import settings as settings_module
from backend.notifications.services import (
    Channel,
    ChannelNotifier,
    ConsoleTransport,
    DeliveryFailed,
    DeliveryUnavailable,
    Notifier,
    SmtpEmailTransport,
    UnavailableTransport,
    WebhookSmsTransport,
    mask_email,
    mask_phone,
    notifier_from_settings,
)
from backend.notifications.testing import RecordingNotifier
from backend.settings import Settings, generate_master_key, load_settings
from tests.servers import free_port

EMAIL_TO = "jean.dupont@example.fr"
PHONE_TO = "+33612345678"
SUBJECT = "Votre code de connexion à Carnet"
CODE = "482913"
TEXT = f"Bonjour Jean,\n\nVotre code de connexion est {CODE}. Il expire dans 15 minutes.\n— Carnet"
SENDER = "Carnet Santé <no-reply@carnet.example>"
SECRETS = (CODE, EMAIL_TO, PHONE_TO, "jean.dupont", "612345678")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    for name in settings_module.setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def make_settings(*, production: bool = False, **overrides: object) -> Settings:
    values: dict[str, object] = {"smtp_host": None, "sms_webhook_url": None}
    if production:
        values.update(carnet_env="production", carnet_master_key=generate_master_key())
    values.update(overrides)
    return load_settings(**values)


def assert_no_leak(exc: BaseException, *texts: str) -> None:
    """Neither the message, the repr nor the printed traceback (causes included) leaks."""
    rendered = "".join(traceback.format_exception(exc)) + str(exc) + repr(exc)
    for secret in (*SECRETS, *texts):
        assert secret not in rendered
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        message = record.getMessage()
        for secret in SECRETS:
            assert secret not in message
        assert record.exc_info is None


# --- SMTP ----------------------------------------------------------------------------------


class SmtpCapture:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[tuple[str, str]] = []
        self.refuse_recipients = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse_recipients:
            return f"550 5.1.1 <{address}>: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    def message(self, index: int = -1) -> email.message.EmailMessage:
        raw = self.envelopes[index].original_content or self.envelopes[index].content
        return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpCapture, int]]:
    capture = SmtpCapture()
    port = free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield capture, port
    finally:
        controller.stop()


AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def smtp_auth() -> Iterator[tuple[SmtpCapture, int]]:
    capture = SmtpCapture()
    port = free_port()
    controller = Controller(
        capture,
        hostname="127.0.0.1",
        port=port,
        authenticator=capture.authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield capture, port
    finally:
        controller.stop()


async def test_email_is_delivered_over_smtp(smtp):
    capture, port = smtp
    notifier = notifier_from_settings(
        make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from=SENDER)
    )
    assert isinstance(notifier, ChannelNotifier)
    assert isinstance(notifier.email, SmtpEmailTransport)

    await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)

    assert len(capture.envelopes) == 1
    envelope = capture.envelopes[0]
    assert envelope.mail_from == "no-reply@carnet.example"
    assert envelope.rcpt_tos == [EMAIL_TO]
    msg = capture.message()
    assert msg["To"] == EMAIL_TO
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "Carnet Santé"
    assert msg["From"].addresses[0].addr_spec == "no-reply@carnet.example"
    assert msg["Date"].datetime is not None
    assert msg["Message-ID"].endswith("@carnet.example>")
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    # 7-bit clean on the wire, whatever the server supports.
    raw = envelope.original_content or envelope.content
    raw.decode("ascii")


async def test_each_email_gets_its_own_message_id(smtp):
    capture, port = smtp
    notifier = notifier_from_settings(make_settings(smtp_host="127.0.0.1", smtp_port=port))
    await notifier.send_email(EMAIL_TO, "Un nouveau document est disponible", "Connectez-vous.")
    await notifier.send_email(EMAIL_TO, "Un message vous attend", "Connectez-vous.")
    ids = {capture.message(i)["Message-ID"] for i in range(2)}
    assert len(ids) == 2
    assert capture.message(0)["From"].addresses[0].addr_spec == "no-reply@carnet.localhost"


@AUTH_WITHOUT_TLS
async def test_smtp_login_uses_the_configured_credentials(smtp_auth):
    capture, port = smtp_auth
    settings = make_settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_username="carnet", smtp_password="s3cret"
    )
    await notifier_from_settings(settings).send_email(EMAIL_TO, SUBJECT, TEXT)
    assert capture.logins == [("carnet", "s3cret")]
    assert len(capture.envelopes) == 1


@AUTH_WITHOUT_TLS
async def test_smtp_wrong_password_is_a_delivery_failure(smtp_auth, caplog):
    capture, port = smtp_auth
    settings = make_settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_username="carnet", smtp_password="n0t-it"
    )
    with pytest.raises(DeliveryFailed) as info:
        await notifier_from_settings(settings).send_email(EMAIL_TO, SUBJECT, TEXT)
    assert info.value.channel is Channel.EMAIL
    assert_no_leak(info.value, "n0t-it")
    assert str(info.value) == "email delivery failed (SMTPAuthenticationError)"
    assert_logs_clean(caplog)
    assert capture.envelopes == []


async def test_smtp_server_down_is_a_delivery_failure_without_leaks(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    notifier = notifier_from_settings(make_settings(smtp_host="127.0.0.1", smtp_port=free_port()))
    with pytest.raises(DeliveryFailed) as info:
        await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    exc = info.value
    assert exc.channel is Channel.EMAIL
    assert str(exc) == "email delivery failed (SMTPConnectError)"
    assert_no_leak(exc)
    assert_logs_clean(caplog)
    assert "email delivery failed: SMTPConnectError" in caplog.text
    out, err = capsys.readouterr()
    assert CODE not in out + err


async def test_refused_recipient_is_a_delivery_failure_without_the_address(smtp, caplog):
    capture, port = smtp
    capture.refuse_recipients = True
    notifier = notifier_from_settings(make_settings(smtp_host="127.0.0.1", smtp_port=port))
    with pytest.raises(DeliveryFailed) as info:
        await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    assert_no_leak(info.value)
    assert_logs_clean(caplog)
    assert capture.envelopes == []


async def test_required_starttls_never_falls_back_to_plaintext(smtp):
    capture, port = smtp  # this server offers no STARTTLS
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True)
    with pytest.raises(DeliveryFailed):
        await notifier_from_settings(settings).send_email(EMAIL_TO, SUBJECT, TEXT)
    assert capture.envelopes == []


async def test_silent_smtp_server_times_out():
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # never greets

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as info:
            await notifier_from_settings(settings, timeout=0.3).send_email(EMAIL_TO, SUBJECT, TEXT)
        assert time.monotonic() - started < 3
        assert "Timeout" in str(info.value)
        assert_no_leak(info.value)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        (EMAIL_TO, "Code\r\nBcc: victim@example.org"),
        ("a@example.fr\nBcc: victim@example.org", SUBJECT),
        ("not-an-address", SUBJECT),
        ("", SUBJECT),
    ],
)
async def test_header_injection_is_refused_before_sending(smtp, to, subject):
    capture, port = smtp
    notifier = notifier_from_settings(make_settings(smtp_host="127.0.0.1", smtp_port=port))
    with pytest.raises(ValueError) as info:
        await notifier.send_email(to, subject, TEXT)
    assert "victim" not in str(info.value)
    assert capture.envelopes == []


# --- SMS webhook ---------------------------------------------------------------------------


class SmsGateway:
    """A tiny HTTP server in a thread, recording POSTed JSON bodies."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.status = 202
        self.delay = 0.0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                gateway.requests.append((self.path, self.headers["Content-Type"], body))
                if gateway.delay:
                    time.sleep(gateway.delay)
                self.send_response(gateway.status)
                if gateway.status in (301, 302, 307):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms?key=t0ken"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> SmsGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as g:
        yield g


async def test_sms_is_posted_as_json(gateway):
    notifier = notifier_from_settings(make_settings(sms_webhook_url=gateway.url))
    assert isinstance(notifier, ChannelNotifier)
    assert isinstance(notifier.sms, WebhookSmsTransport)
    sms_text = f"Carnet : votre code est {CODE} (valable 15 min). Ne le partagez pas — jamais."

    await notifier.send_sms(PHONE_TO, sms_text)

    assert len(gateway.requests) == 1
    path, content_type, body = gateway.requests[0]
    assert path == "/sms?key=t0ken"
    assert content_type == "application/json"
    assert body == {"to": PHONE_TO, "text": sms_text}


@pytest.mark.parametrize("status", [302, 400, 401, 500, 503])
async def test_sms_non_2xx_is_a_delivery_failure(gateway, caplog, status):
    gateway.status = status
    notifier = notifier_from_settings(make_settings(sms_webhook_url=gateway.url))
    with pytest.raises(DeliveryFailed) as info:
        await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert info.value.channel is Channel.SMS
    assert str(info.value) == f"sms delivery failed (HTTP {status})"
    assert_no_leak(info.value, "t0ken")
    assert_logs_clean(caplog)
    assert "t0ken" not in caplog.text
    assert len(gateway.requests) == 1  # redirects are not followed


async def test_sms_connection_refused_is_a_delivery_failure(caplog):
    url = f"http://127.0.0.1:{free_port()}/sms?key=t0ken"
    notifier = notifier_from_settings(make_settings(sms_webhook_url=url))
    with pytest.raises(DeliveryFailed) as info:
        await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert str(info.value) == "sms delivery failed (ConnectError)"
    assert_no_leak(info.value, "t0ken")
    assert_logs_clean(caplog)
    assert "t0ken" not in caplog.text


async def test_sms_slow_gateway_times_out(gateway):
    gateway.delay = 2.0
    notifier = notifier_from_settings(make_settings(sms_webhook_url=gateway.url), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as info:
        await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert time.monotonic() - started < 1.5
    assert str(info.value) == "sms delivery failed (ReadTimeout)"
    assert_no_leak(info.value)


# --- Fallbacks -----------------------------------------------------------------------------


async def test_dev_without_transports_prints_to_stdout(capsys, caplog):
    caplog.set_level(logging.DEBUG)
    notifier = notifier_from_settings(make_settings())
    assert isinstance(notifier, ChannelNotifier)
    assert isinstance(notifier.email, ConsoleTransport)
    assert isinstance(notifier.sms, ConsoleTransport)

    await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    out, _ = capsys.readouterr()
    assert "CARNET DEV EMAIL" in out and "=" * 20 in out
    assert f"To: {EMAIL_TO}" in out and f"Subject: {SUBJECT}" in out and TEXT in out

    await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    out, _ = capsys.readouterr()
    assert "CARNET DEV SMS" in out and f"To: {PHONE_TO}" in out and f"Votre code : {CODE}" in out

    assert CODE not in caplog.text  # printed, never logged


async def test_production_without_transports_refuses_and_prints_nothing(capsys, caplog):
    notifier = notifier_from_settings(make_settings(production=True))
    assert isinstance(notifier, ChannelNotifier)
    assert isinstance(notifier.email, UnavailableTransport)

    with pytest.raises(DeliveryUnavailable) as info:
        await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    assert isinstance(info.value, DeliveryFailed)
    assert info.value.channel is Channel.EMAIL and info.value.setting == "SMTP_HOST"
    with pytest.raises(DeliveryUnavailable) as info:
        await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert info.value.channel is Channel.SMS and info.value.setting == "SMS_WEBHOOK_URL"
    assert_no_leak(info.value)

    out, err = capsys.readouterr()
    assert out == "" and CODE not in err
    assert_logs_clean(caplog)


async def test_production_uses_configured_transports_independently(smtp, capsys):
    capture, port = smtp
    notifier = notifier_from_settings(
        make_settings(production=True, smtp_host="127.0.0.1", smtp_port=port)
    )
    await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    assert len(capture.envelopes) == 1
    with pytest.raises(DeliveryUnavailable):
        await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert capsys.readouterr().out == ""


async def test_dev_mixes_a_real_transport_with_the_console(gateway, capsys):
    notifier = notifier_from_settings(make_settings(sms_webhook_url=gateway.url))
    await notifier.send_sms(PHONE_TO, "Un message vous attend.")
    await notifier.send_email(EMAIL_TO, "Un message vous attend", "Connectez-vous.")
    assert len(gateway.requests) == 1
    assert "Un message vous attend" in capsys.readouterr().out


def test_production_warns_about_smtp_credentials_in_clear(caplog):
    settings = make_settings(
        production=True, smtp_host="smtp.example.fr", smtp_username="u", smtp_password="p4ss"
    )
    notifier_from_settings(settings)
    assert "in clear" in caplog.text
    assert "p4ss" not in caplog.text


# --- Recording notifier --------------------------------------------------------------------


async def test_recording_notifier_records_and_can_fail():
    notifier = RecordingNotifier()
    assert isinstance(notifier, Notifier)
    assert isinstance(notifier_from_settings(make_settings()), Notifier)

    await notifier.send_email(EMAIL_TO, SUBJECT, TEXT)
    await notifier.send_sms(PHONE_TO, f"Votre code : {CODE}")
    assert [m.channel for m in notifier.sent] == [Channel.EMAIL, Channel.SMS]
    assert notifier.last(to=EMAIL_TO).subject == SUBJECT
    assert notifier.last(channel="sms").text.endswith(CODE)
    assert len(notifier.emails) == 1 and len(notifier.sms) == 1

    notifier.failing.add("sms")
    with pytest.raises(DeliveryFailed):
        await notifier.send_sms(PHONE_TO, "x")
    assert len(notifier.sms) == 1

    async def later() -> None:
        await asyncio.sleep(0.05)
        await notifier.send_email("other@example.fr", "Sujet", "Texte")

    task = asyncio.create_task(later())
    async with asyncio.timeout(2):
        message = await notifier.wait_for(to="other@example.fr")
    assert message.subject == "Sujet"
    await task
    notifier.clear()
    assert notifier.sent == []
    with pytest.raises(AssertionError):
        notifier.last()


# --- Masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jean.dupont@example.fr", "j***t@example.fr"),
        ("  Marie@Exemple.FR ", "M***e@exemple.fr"),
        ("ab@example.fr", "a***@example.fr"),
        ("a@example.fr", "***@example.fr"),
        ("élodie@exemple.fr", "é***e@exemple.fr"),
    ],
)
def test_mask_email(address, masked):
    assert mask_email(address) == masked


@pytest.mark.parametrize("address", ["", "no-at-sign", "@example.fr", "jean@"])
def test_mask_email_rejects_non_addresses(address):
    with pytest.raises(ValueError):
        mask_email(address)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+33612345678", "+33 6 ** ** ** 78"),
        ("+33 6 12 34 56 78", "+33 6 ** ** ** 78"),
        ("06 12 34 56 78", "+33 6 ** ** ** 78"),
        ("+447911123456", "+44 7*** ****56"),
        ("+16502530000", "+1 6**-***-**00"),
    ],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


def test_mask_phone_never_shows_more_than_the_ends():
    masked = mask_phone("+33612345678")
    assert "1234" not in masked and "3456" not in masked
    with pytest.raises(ValueError):
        mask_phone("abc")
