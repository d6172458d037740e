"""French wording of dates, durations, countdowns, sizes and browsers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from carnet_web.state.formatting import (
    browser_text,
    countdown,
    datetime_text,
    day_text,
    seconds_until,
    size_text,
    today_here,
    wait_text,
)


def datetime_text_fr(iso: str) -> str:
    return datetime_text(iso, "fr")


def wait_text_fr(seconds: int) -> str:
    return wait_text(seconds, "fr")


def browser_text_fr(user_agent: str) -> str:
    return browser_text(user_agent, "fr")


def day_text_fr(iso: str) -> str:
    return day_text(iso, "fr")


def size_text_fr(size: int) -> str:
    return size_text(size, "fr")

NOW = datetime(2026, 11, 28, 18, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-11-28T17:54:00+00:00", "28 novembre 2026 à 18:54"),
        ("2026-07-14T22:30:00+00:00", "15 juillet 2026 à 00:30"),  # summer time
        ("2026-03-01T08:05:00", "1er mars 2026 à 09:05"),  # naive means UTC
        ("n'importe quoi", ""),
    ],
)
def test_datetime_text(iso: str, expected: str) -> None:
    assert datetime_text_fr(iso) == expected


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-11-28T18:15:00+00:00", 900),
        ("2026-11-28T18:00:00.300000+00:00", 1),  # rounded up: never 0 while time is left
        ("2026-11-28T17:59:00+00:00", 0),  # past
        ("", 0),
    ],
)
def test_seconds_until(iso: str, expected: int) -> None:
    assert seconds_until(iso, now=NOW) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(900, "15:00"), (899, "14:59"), (65, "01:05"), (9, "00:09"), (0, "00:00"), (-3, "00:00")],
)
def test_countdown(seconds: int, expected: str) -> None:
    assert countdown(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(1, "1 seconde"), (45, "45 secondes"), (60, "1 minute"), (61, "2 minutes"),
     (900, "15 minutes"), (7200, "2 heures"), (0, "1 seconde")],
)
def test_wait_text(seconds: int, expected: str) -> None:
    assert wait_text_fr(seconds) == expected


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/140.0.0.0 Safari/537.36", "Chrome sur Linux"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0", "Edge sur Windows"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", "Safari sur iOS"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:140.0) Gecko/20100101 Firefox/140.0",
         "Firefox sur macOS"),
        ("Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/140.0.0.0 Mobile Safari/537.36", "Chrome sur Android"),
        ("python-httpx/0.28.1", "Navigateur inconnu"),
        ("", "Navigateur inconnu"),
    ],
)
def test_browser_text(user_agent: str, expected: str) -> None:
    assert browser_text_fr(user_agent) == expected


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2025-03-07", "7 mars 2025"),
        ("2025-12-31", "31 décembre 2025"),  # a calendar date: no time zone shift
        ("2025-08-01T23:30:00+00:00", "1er août 2025"),
        ("demain", ""),
        ("", ""),
    ],
)
def test_day_text(iso: str, expected: str) -> None:
    assert day_text_fr(iso) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 octet"),
        (1, "1 octet"),
        (820, "820 octets"),
        (1024, "1 Ko"),
        (1536, "1,5 Ko"),
        (2106, "2,1 Ko"),
        (154_300, "151 Ko"),
        (1024 * 1024 - 1, "1 Mo"),  # never "1024 Ko"
        (1_572_864, "1,5 Mo"),
        (20 * 1024 * 1024, "20 Mo"),
        (3 * 1024**3, "3 Go"),
    ],
)
def test_size_text(size: int, expected: str) -> None:
    assert size_text_fr(size) == expected


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1)),  # 00:30 in Paris (summer)
    (datetime(2026, 12, 31, 23, 5, tzinfo=UTC), date(2027, 1, 1)),  # 00:05 in Paris (winter)
    (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), date(2026, 3, 1)),
])
def test_today_is_the_patients_date_not_the_servers(now, expected):
    assert today_here(now) == expected


# --- per language (the forms every page now uses) ---------------------------------------------

def test_dates_per_language_with_the_french_first_of_the_month() -> None:
    from carnet_web.state.formatting import date_text, datetime_text, day_text, short_day_text

    assert date_text("2026-06-01T10:00:00Z", "fr") == "1er juin 2026"
    assert date_text("2026-06-01T10:00:00Z", "en") == "1 June 2026"
    assert date_text("2026-06-02T10:00:00Z", "fr") == "2 juin 2026"
    # 23:30 UTC on 31 May is already 1 June in Paris.
    assert date_text("2026-05-31T23:30:00Z", "fr") == "1er juin 2026"
    assert datetime_text("2025-11-28T17:54:00+00:00", "fr") == "28 novembre 2025 à 18:54"
    assert datetime_text("2025-11-28T17:54:00+00:00", "en") == "28 November 2025 at 18:54"
    assert day_text("2025-03-07", "en") == "7 March 2025"
    assert short_day_text("2026-06-01", "fr") == "1er juin"
    assert short_day_text("2026-06-01", "en") == "1 June"
    assert date_text("not a date", "en") == "" and day_text("", "fr") == ""


def test_numbers_and_sizes_per_language() -> None:
    from carnet_web.state.formatting import number_text, size_text

    assert number_text(72.5, "fr") == "72,5"
    assert number_text(72.5, "en") == "72.5"
    assert number_text(5.0, "fr") == "5"
    assert number_text(1234.5, "en") == "1,234.5"
    assert size_text(1536, "fr") == "1,5 Ko" and size_text(1536, "en") == "1.5 KB"
    assert size_text(1, "fr") == "1 octet" and size_text(820, "en") == "820 bytes"


def test_waits_and_browsers_per_language() -> None:
    from carnet_web.state.formatting import browser_text, wait_text

    assert wait_text(1, "fr") == "1 seconde" and wait_text(45, "en") == "45 seconds"
    assert wait_text(900, "en") == "15 minutes" and wait_text(7300, "fr") == "3 heures"
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
    assert browser_text(firefox, "fr") == "Firefox sur Windows"
    assert browser_text(firefox, "en") == "Firefox on Windows"
    assert browser_text("", "en") == "Unknown browser"
