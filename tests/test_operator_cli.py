"""`carnet patient create` / `carnet professional create`: JSON out, clear errors, nothing
half-created."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backend.identity.models import Account, Person, Professional
from tests.factories import make_nir

ROOT = Path(__file__).resolve().parent.parent


def carnet(env: dict[str, str], *args: str, password: str = "a long enough passphrase"
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env,
                          input=password + "\n", capture_output=True, text=True, timeout=120)


PATIENT = ["patient", "create", "--birth-name", "Leroy", "--first-names", "Anne Sophie",
           "--birth-date", "1985-02-03", "--sex", "F", "--birthplace", "2A004",
           "--password-stdin"]


async def test_patient_create_outputs_ids(server_env, clean):
    result = carnet(server_env, *PATIENT, "--nir", make_nir("2", "2A"), "--email",
                    "Anne@Example.fr", "--phone", "0612345678")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    account = await Account.get(id=out["accountId"]).prefetch_related("person")
    assert out["personId"] == account.person.id and out["role"] == "patient"
    assert account.identifier == "Anne@example.fr"  # defaults to the (normalised) email
    assert account.phone == "+33612345678"
    assert account.password_hash.startswith("$argon2id$")
    assert account.person.birth_name == "LEROY"


async def test_invalid_input_exits_non_zero_and_creates_nothing(server_env, clean):
    cases = [
        (["--nir", "2 55 08 14 168 025 39", "--email", "a@example.fr"], "--nir"),
        (["--nir", make_nir("2"), "--email", "not-an-email"], "--email"),
        (["--nir", make_nir("2"), "--email", "a@example.fr", "--phone", "12"], "--phone"),
        (["--nir", make_nir("1"), "--email", "a@example.fr"], "--sex"),
    ]
    for extra, named in cases:
        result = carnet(server_env, *PATIENT, *extra)
        assert result.returncode != 0
        assert named in result.stderr, result.stderr
    weak = carnet(server_env, *PATIENT, "--nir", make_nir("2"), "--email", "b@example.fr",
                  password="short")
    assert weak.returncode != 0 and "password" in weak.stderr
    assert await Person.all().count() == 0 and await Account.all().count() == 0


async def test_duplicates_are_refused_without_leftovers(server_env, clean):
    nir = make_nir("2")
    assert carnet(server_env, *PATIENT, "--nir", nir, "--email", "one@example.fr").returncode == 0
    same_identifier = carnet(server_env, *PATIENT, "--nir", make_nir("2"),
                             "--email", "two@example.fr", "--identifier", "ONE@example.fr")
    assert same_identifier.returncode != 0 and "--identifier" in same_identifier.stderr
    same_nir = carnet(server_env, *PATIENT, "--nir", nir, "--email", "three@example.fr")
    assert same_nir.returncode != 0 and "--nir" in same_nir.stderr
    assert await Person.all().count() == 1 and await Account.all().count() == 1


async def test_professional_create_warns_on_a_bad_rpps_check_digit(server_env, clean):
    ok = carnet(server_env, "professional", "create", "--rpps", "10002727377", "--profession",
                "Médecin", "--email", "dr@example.fr", "--password-stdin")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rppsCheckDigitOk"] is True
    warn = carnet(server_env, "professional", "create", "--rpps", "10002727378",
                  "--profession", "Infirmier", "--email", "ide@example.fr", "--password-stdin")
    assert warn.returncode == 0 and "warning" in warn.stderr
    bad = carnet(server_env, "professional", "create", "--rpps", "123", "--profession", "X",
                 "--email", "x@example.fr", "--password-stdin")
    assert bad.returncode != 0 and "--rpps" in bad.stderr
    assert await Professional.all().count() == 2


def test_password_is_never_taken_from_the_command_line(server_env):
    result = subprocess.run([sys.executable, "-m", "backend.cli", *PATIENT[:-1], "--nir",
                             make_nir(), "--email", "c@example.fr"], cwd=ROOT, env=server_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--password-stdin" in result.stderr
