"""A Notifier for tests: records messages instead of sending them.

    notifier = RecordingNotifier()
    ... code under test sends a login code ...
    assert notifier.last(to="jean@example.fr").text.endswith("123456")

`notifier.failing.add("sms")` makes every SMS raise DeliveryFailed("sms").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from backend.notifications.services import Channel, DeliveryFailed

WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class SentMessage:
    channel: Channel
    to: str
    text: str
    subject: str | None = None


@dataclass
class RecordingNotifier:
    sent: list[SentMessage] = field(default_factory=list)
    # Channels ("email", "sms") whose sends raise DeliveryFailed (and are not recorded).
    failing: set[str] = field(default_factory=set)
    _waiters: list[asyncio.Event] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def _record(self, message: SentMessage) -> None:
        self.sent.append(message)
        for event in self._waiters:
            event.set()

    async def send_email(self, to: str, subject: str, text: str) -> None:
        if Channel.EMAIL in self.failing:
            raise DeliveryFailed(Channel.EMAIL, "simulated")
        self._record(SentMessage(Channel.EMAIL, to, text, subject))

    async def send_sms(self, to: str, text: str) -> None:
        if Channel.SMS in self.failing:
            raise DeliveryFailed(Channel.SMS, "simulated")
        self._record(SentMessage(Channel.SMS, to, text))

    @property
    def emails(self) -> list[SentMessage]:
        return [m for m in self.sent if m.channel is Channel.EMAIL]

    @property
    def sms(self) -> list[SentMessage]:
        return [m for m in self.sent if m.channel is Channel.SMS]

    def find(self, *, to: str | None = None, channel: str | None = None) -> list[SentMessage]:
        return [
            m
            for m in self.sent
            if (to is None or m.to == to) and (channel is None or m.channel == channel)
        ]

    def last(self, *, to: str | None = None, channel: str | None = None) -> SentMessage:
        """The latest matching message; AssertionError if there is none."""
        found = self.find(to=to, channel=channel)
        assert found, f"no message sent (to={to!r}, channel={channel!r})"
        return found[-1]

    async def wait_for(self, *, to: str | None = None, channel: str | None = None) -> SentMessage:
        """The latest matching message, waiting (up to WAIT_SECONDS; wrap the call in
        `asyncio.timeout()` for less) for one sent in the background."""
        event = asyncio.Event()
        self._waiters.append(event)
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while not self.find(to=to, channel=channel):
                    await event.wait()
                    event.clear()
        except TimeoutError:
            raise AssertionError(f"no message sent (to={to!r}, channel={channel!r})") from None
        finally:
            self._waiters.remove(event)
        return self.last(to=to, channel=channel)

    def clear(self) -> None:
        self.sent.clear()
