"""Email addresses and phone numbers, normalised with email-validator and phonenumbers."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from backend.i18n import N_, Message


class InvalidContact(ValueError):
    """`text`: a French msgid and its values (translated where it is answered)."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        self.text = Message(message, **values)
        super().__init__(str(self.text))
        self.field = field


def normalise_email(value: str) -> str:
    try:
        # No DNS lookups: the machine may be offline and deliverability is proven by the code.
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidContact("email", N_("Adresse e-mail invalide : {reason}"),
                             reason=str(exc)) from None


def normalise_phone(value: str, region: str = "FR") -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact("phone", N_("Numéro de téléphone invalide.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("phone", N_("Numéro de téléphone invalide."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
