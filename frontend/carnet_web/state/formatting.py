"""French wording of dates, durations, sizes and browsers, shared by the page states."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS: Final = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def display_zone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # no tz database on this machine
        return UTC


def today_here(now: datetime | None = None) -> date:
    """Today's date where the patient lives (Paris time), not the server's: a UTC machine is
    still on yesterday between midnight and 01:00 or 02:00 in Paris."""
    return (now or datetime.now(UTC)).astimezone(display_zone()).date()


def parse_moment(iso: str) -> datetime | None:
    """An ISO 8601 date-time from the API (naive means UTC), or None if unreadable."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def french_date(iso: str) -> str:
    """'2025-11-28T17:54:00+00:00' -> '28 novembre 2025' (Paris time); '' if unreadable."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    local = moment.astimezone(display_zone())
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def french_datetime(iso: str) -> str:
    """'2025-11-28T17:54:00+00:00' -> '28 novembre 2025 à 18:54' (Paris time); '' if unreadable."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    local = moment.astimezone(display_zone())
    return f"{french_date(iso)} à {local:%H:%M}"


def french_day(iso: str) -> str:
    """A calendar date: '2025-03-07' -> '7 mars 2025' (no time zone involved); '' if unreadable."""
    try:
        day = date.fromisoformat(str(iso)[:10])
    except (TypeError, ValueError):
        return ""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def french_size(size: int) -> str:
    """A file size as the French say it: '820 octets', '1,5 Ko', '12 Mo' (1 Ko = 1024 octets)."""
    size = max(0, int(size))
    if size < 1024:
        return f"{size} octet" + ("s" if size > 1 else "")
    value = float(size)
    for unit in ("Ko", "Mo", "Go"):
        value /= 1024
        if round(value, 1) < 1024 or unit == "Go":
            break
    rounded = round(value, 1)
    text = f"{rounded:.0f}" if rounded >= 100 or rounded.is_integer() else f"{rounded:.1f}"
    return f"{text.replace('.', ',')} {unit}"


def seconds_until(iso: str, now: datetime | None = None) -> int:
    """Whole seconds left before `iso` (rounded up, never negative); 0 if unreadable."""
    moment = parse_moment(iso)
    if moment is None:
        return 0
    left = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0, math.ceil(left))


def countdown(seconds: int) -> str:
    """125 -> '02:05' (minutes:seconds)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def french_wait(seconds: int) -> str:
    """How long to wait, rounded up: '45 secondes', '1 minute', '15 minutes', '2 heures'."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return f"{seconds} seconde" + ("s" if seconds > 1 else "")
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute" + ("s" if minutes > 1 else "")
    hours = math.ceil(minutes / 60)
    return f"{hours} heures"


_BROWSERS: Final = (  # order matters: Edge and Opera also say "Chrome", Chrome says "Safari"
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/")),
    ("Chromium", re.compile(r"\bChromium/")),
    ("Chrome", re.compile(r"\b(?:HeadlessChrome|Chrome|CriOS)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS: Final = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)


def browser_label(user_agent: str) -> str:
    """A short French description of a User-Agent: 'Firefox sur Windows', 'Navigateur inconnu'."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    if browser and system:
        return f"{browser} sur {system}"
    if browser or system:
        return browser or f"Navigateur sur {system}"
    return "Navigateur inconnu"
