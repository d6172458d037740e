"""Dates, durations, numbers, sizes and browsers as each language writes them, shared by the
page states (which compute display strings on the server, in the tab's language: `self.lang`).

French: "1er juin 2026", "28 novembre 2025 à 18:54", "1,5 Ko", "72,5"; English (British usage,
the closest to French conventions): "1 June 2026", "28 November 2025 at 18:54", "1.5 KB", "72.5".
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal as _babel_decimal

from carnet_web.i18n import BABEL_LOCALES, N_, gettext, normalise


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




def _locale(language: str) -> str:
    return BABEL_LOCALES[normalise(language)]


def _day_text(day: date, language: str, *, year: bool = True) -> str:
    """7 March 2025 / 7 mars 2025, with the French ordinal for the first: 1er mars."""
    language = normalise(language)
    text = _babel_date(day, "d MMMM y" if year else "d MMMM", locale=_locale(language))
    if language == "fr" and day.day == 1:
        text = "1er" + text[1:]
    return text


def date_text(iso: str, language: str) -> str:
    """A moment's date where the patient lives: '28 novembre 2025' / '28 November 2025'."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    return _day_text(moment.astimezone(display_zone()).date(), language)


def datetime_text(iso: str, language: str) -> str:
    """'28 novembre 2025 à 18:54' / '28 November 2025 at 18:54' (Paris time)."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    local = moment.astimezone(display_zone())
    clock = local.strftime("%H:%M")
    return gettext(language, "{date} à {time}", date=_day_text(local.date(), language),
                   time=clock)


def day_text(iso: str, language: str) -> str:
    """A calendar date (no time zone): '2025-03-07' -> '7 mars 2025' / '7 March 2025'."""
    try:
        day = date.fromisoformat(str(iso)[:10])
    except (TypeError, ValueError):
        return ""
    return _day_text(day, language)


def short_day_text(iso: str, language: str) -> str:
    """A chart's axis label: '1er juin' / '1 June' (calendar date or moment)."""
    moment = parse_moment(iso) if "T" in str(iso) else None
    try:
        day = (moment.astimezone(display_zone()).date() if moment is not None
               else date.fromisoformat(str(iso)[:10]))
    except (TypeError, ValueError):
        return ""
    return _day_text(day, language, year=False)


def number_text(value: float, language: str, *, digits: int = 2) -> str:
    """72.5 -> '72,5' / '72.5' (at most `digits` decimals, no trailing zeros)."""
    pattern = "#,##0." + "#" * digits if digits else "#,##0"
    return _babel_decimal(value, format=pattern, locale=_locale(language))


_SIZE_UNITS: Final = {"fr": ("octet", "octets", ("Ko", "Mo", "Go")),
                      "en": ("byte", "bytes", ("KB", "MB", "GB"))}


def size_text(size: int, language: str) -> str:
    """'820 octets', '1,5 Ko', '12 Mo' / '820 bytes', '1.5 KB', '12 MB' (1 K = 1024)."""
    one, many, units = _SIZE_UNITS[normalise(language)]
    size = max(0, int(size))
    if size < 1024:
        return f"{size} {many if size > 1 else one}"
    value = float(size)
    for unit in units:
        value /= 1024
        if round(value, 1) < 1024 or unit == units[-1]:
            break
    rounded = round(value, 1)
    return f"{number_text(rounded, language, digits=0 if rounded >= 100 else 1)} {unit}"


def wait_text(seconds: int, language: str) -> str:
    """How long to wait, rounded up: '45 secondes', '1 minute', '2 heures' / '45 seconds'..."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        amount, one, many = seconds, N_("{n} seconde"), N_("{n} secondes")
    else:
        minutes = math.ceil(seconds / 60)
        if minutes < 120:
            amount, one, many = minutes, N_("{n} minute"), N_("{n} minutes")
        else:
            amount, one, many = math.ceil(minutes / 60), N_("{n} heure"), N_("{n} heures")
    return gettext(language, one if amount == 1 else many, n=amount)


def browser_text(user_agent: str, language: str) -> str:
    """'Firefox sur Windows' / 'Firefox on Windows', 'Navigateur inconnu' / 'Unknown browser'."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    if browser and system:
        return gettext(language, "{browser} sur {system}", browser=browser, system=system)
    if browser:
        return browser
    if system:
        return gettext(language, "Navigateur sur {system}", system=system)
    return gettext(language, "Navigateur inconnu")
