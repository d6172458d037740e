"""National health identity (INS): NIR checks and identity traits.

The NIR is checked by structure and key with python-stdnum (which handles Corsica 2A/2B);
we add the sex digit check. Calendar rules are deliberately not enforced: real NIRs carry
months 20+ and other special values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir as stdnum_nir

from backend.identity.models import Sex

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_TEST_NIR = "1.2.250.1.213.1.4.10"

# 1/2: born in France or registered; 3/4: foreign-born, temporary; 7/8: temporary numbers.
_SEX_DIGITS = {"1", "2", "3", "4", "7", "8"}


class InvalidNir(ValueError):
    """`reason` is one of: length, format, sex_digit, checksum."""

    MESSAGES = {
        "length": "Le NIR doit comporter 15 caractères (13 + clé de 2 chiffres).",
        "format": "Le NIR ne doit contenir que des chiffres (2A ou 2B pour la Corse).",
        "sex_digit": "Le premier chiffre du NIR (sexe) doit être 1, 2, 3, 4, 7 ou 8.",
        "checksum": "La clé du NIR ne correspond pas au numéro.",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


def normalise_nir(value: str) -> str:
    """Validate a NIR (spaces, dots and dashes allowed) and return its 15 characters."""
    compact = re.sub(r"[\s.\-]", "", value or "").upper()
    if len(compact) != 15:
        raise InvalidNir("length")
    if compact[0] not in _SEX_DIGITS and compact[0].isdigit():
        raise InvalidNir("sex_digit")
    try:
        return stdnum_nir.validate(compact)
    except stdnum_errors.InvalidLength:
        raise InvalidNir("length") from None
    except stdnum_errors.InvalidFormat:
        raise InvalidNir("format") from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidNir("checksum") from None


@dataclass(frozen=True)
class InsTraits:
    matricule: str
    oid: str
    birth_name: str
    first_names: str
    birth_date: date
    sex: Sex
    birthplace_code: str


class InvalidIdentity(ValueError):
    """`field` names the trait at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ' \-]{1,100}$")
_BIRTHPLACE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def check_traits(
    *,
    nir: str,
    birth_name: str,
    first_names: str,
    birth_date: date,
    sex: str,
    birthplace: str,
    test_identity: bool = False,
) -> InsTraits:
    try:
        matricule = normalise_nir(nir)
    except InvalidNir as exc:
        raise InvalidIdentity("nir", str(exc)) from None
    birth_name = " ".join(birth_name.split()).upper()
    first_names = " ".join(first_names.split())
    if not _NAME.match(birth_name):
        raise InvalidIdentity("birth_name", "Nom de naissance invalide.")
    if not first_names or not all(_NAME.match(n) for n in first_names.split(" ")):
        raise InvalidIdentity("first_names", "Prénoms de naissance invalides.")
    if birth_date > date.today() or birth_date.year < 1890:
        raise InvalidIdentity("birth_date", "Date de naissance invalide.")
    try:
        sex_value = Sex(sex.upper())
    except ValueError:
        raise InvalidIdentity("sex", "Le sexe doit être M, F ou U.") from None
    expected = {"1": Sex.MALE, "3": Sex.MALE, "7": Sex.MALE,
                "2": Sex.FEMALE, "4": Sex.FEMALE, "8": Sex.FEMALE}[matricule[0]]
    if sex_value is not Sex.UNKNOWN and sex_value is not expected:
        raise InvalidIdentity("sex", "Le sexe ne correspond pas au premier chiffre du NIR.")
    birthplace = birthplace.strip().upper()
    if not _BIRTHPLACE.match(birthplace):
        raise InvalidIdentity(
            "birthplace", "Code INSEE du lieu de naissance invalide (5 caractères)."
        )
    oid = OID_INS_TEST_NIR if test_identity else (
        OID_INS_NIA if matricule[0] in "78" else OID_INS_NIR
    )
    return InsTraits(matricule, oid, birth_name, first_names, birth_date, sex_value, birthplace)


def check_rpps(value: str) -> tuple[str, bool]:
    """Return (rpps, luhn_ok). The format is enforced; the Luhn digit only warns (not official)."""
    from stdnum import luhn

    rpps = re.sub(r"\s", "", value or "")
    if not re.fullmatch(r"\d{11}", rpps):
        raise InvalidIdentity("rpps", "Le numéro RPPS doit comporter 11 chiffres.")
    return rpps, luhn.is_valid(rpps)
