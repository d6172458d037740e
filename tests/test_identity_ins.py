"""NIR and INS traits (python-stdnum plus our own structure checks)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.identity.ins import (
    OID_INS_NIA,
    OID_INS_NIR,
    OID_INS_TEST_NIR,
    InvalidIdentity,
    InvalidNir,
    check_rpps,
    check_traits,
    normalise_nir,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2 55 08 14 168 025 38", "255081416802538"),  # the reference example (key 38)
        ("255081416802538", "255081416802538"),
        ("2.55.08.14.168.025-38", "255081416802538"),
        ("1 85 05 2A 004 123 56", "185052A00412356"),  # Corsica: 2A counts as 19
        ("1 85 05 2b 004 123 83", "185052B00412383"),  # Corsica: 2B counts as 18
        ("1 80 13 99 135 001 87", "180139913500187"),  # born abroad (99 + country), month 13
    ],
)
def test_valid_nirs(raw: str, expected: str):
    assert normalise_nir(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2 55 08 14 168 025 39", "checksum"),  # key off by one
        ("2 55 08 14 168 025 83", "checksum"),
        ("1 85 05 2A 004 123 57", "checksum"),
        ("1 85 05 2B 004 123 56", "checksum"),  # 2A's key does not fit 2B
        ("2 55 08 14 168 025", "length"),
        ("2 55 08 14 168 025 380", "length"),
        ("2 55 08 1X 168 025 38", "format"),
        ("2 55 08 2C 168 025 38", "format"),
        ("5 55 08 14 168 025 38", "sex_digit"),
        ("", "length"),
    ],
)
def test_invalid_nirs_say_what_is_wrong(raw: str, reason: str):
    with pytest.raises(InvalidNir) as err:
        normalise_nir(raw)
    assert err.value.reason == reason
    assert str(err.value)


def _traits(**kw):
    values = dict(nir="255081416802538", birth_name=" martin ", first_names="Camille  Marie",
                  birth_date=date(1955, 8, 14), sex="F", birthplace="14168")
    values.update(kw)
    return check_traits(**values)


def test_traits_are_normalised_and_get_the_right_oid():
    traits = _traits()
    assert traits.birth_name == "MARTIN" and traits.first_names == "Camille Marie"
    assert traits.oid == OID_INS_NIR
    assert _traits(test_identity=True).oid == OID_INS_TEST_NIR
    nia = "7" + "55081416802"[:0] + "55081416802" + "5"  # a temporary (7/8) number ...
    body = nia[:13]
    from stdnum.fr import nir

    nia = body + nir.calc_check_digits(body + "00")
    assert _traits(nir=nia, sex="M").oid == OID_INS_NIA


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("sex", {"sex": "M"}),  # the NIR says female
        ("sex", {"sex": "X"}),
        ("birthplace", {"birthplace": "1416"}),
        ("birth_date", {"birth_date": date(2999, 1, 1)}),
        ("birth_name", {"birth_name": "R2D2"}),
        ("nir", {"nir": "255081416802539"}),
    ],
)
def test_bad_traits_name_their_field(field, kw):
    with pytest.raises(InvalidIdentity) as err:
        _traits(**kw)
    assert err.value.field == field


def test_rpps_format_is_enforced_and_luhn_only_warns():
    assert check_rpps("10002727377") == ("10002727377", True)
    assert check_rpps("10002727378") == ("10002727378", False)
    for bad in ("1000272737", "1000272737a", ""):
        with pytest.raises(InvalidIdentity):
            check_rpps(bad)
