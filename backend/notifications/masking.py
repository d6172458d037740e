"""Masked destinations, to tell users where a code was sent without disclosing the address
("j***t@example.fr", "+33 6 ** ** ** 78")."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "FR"


def mask_email(address: str) -> str:
    """ "jean.dupont@example.fr" -> "j***t@example.fr". The domain stays readable; the local part
    keeps its first and last characters (only the first below 3, none for 1) and always shows
    three stars, so its length is not disclosed."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an email address")
    if len(local) == 1:
        masked = "***"
    elif len(local) == 2:
        masked = f"{local[0]}***"
    else:
        masked = f"{local[0]}***{local[-1]}"
    return f"{masked}@{domain.lower()}"


def mask_phone(number: str, region: str = DEFAULT_REGION) -> str:
    """ "+33612345678" -> "+33 6 ** ** ** 78": country code, first national digit and last two
    digits stay readable, in the international grouping. National numbers ("06 12 34 56 78")
    are read in `region`."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not parsed.national_number:
        digits = [c for c in number if c.isdigit()]
        if len(digits) < 6:
            raise ValueError("not a phone number")
        return "***" + "".join(digits[-2:])
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{parsed.country_code}"
    if not formatted.startswith(prefix):  # not expected; never show the number unmasked
        return "***" + str(parsed.national_number)[-2:]
    national = formatted[len(prefix) :]
    positions = [i for i, c in enumerate(national) if c.isdigit()]
    if len(positions) < 5:
        keep: set[int] = set()
    else:
        keep = {positions[0], positions[-2], positions[-1]}
    masked = "".join("*" if c.isdigit() and i not in keep else c for i, c in enumerate(national))
    return prefix + masked
