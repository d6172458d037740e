"""`carnet access matrix show|set`, and the matrix the migration seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backend.access import policy
from backend.access.models import AccessRule
from tests.access_helpers import migration_matrix, seed_matrix

ROOT = Path(__file__).resolve().parent.parent


def carnet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_matrix_set_creates_replaces_and_refuses_bad_input(server_env, clean):
    await seed_matrix()
    result = carnet(server_env, "access", "matrix", "set", "--profession", "Ostéopathe",
                    "--documents", "IMAGING_REPORT,34874-8", "--sections", "allergies")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "profession": "Ostéopathe", "specialty": None, "documents": ["18748-4", "34874-8"],
        "sections": ["allergies"], "emergency": False}
    entry = await policy.matrix_for("osteopathe", "Anything")
    assert entry == policy.MatrixEntry(frozenset({"18748-4", "34874-8"}),
                                       frozenset({policy.Section.ALLERGIES}), False)
    # Replacing a row keeps its emergency flag unless told otherwise.
    result = carnet(server_env, "access", "matrix", "set", "--profession", "médecin",
                    "--specialty", "MÉDECINE D'URGENCE", "--documents", "all",
                    "--sections", "none")
    assert result.returncode == 0, result.stderr
    urgent = await AccessRule.get(profession_key="medecin", specialty_key="medecine d'urgence")
    assert urgent.emergency is True and urgent.sections == [] and len(urgent.document_types) == 19
    assert await AccessRule.filter(profession_key="medecin").count() == 3  # replaced, not added
    before = await AccessRule.all().count()
    for args, named in ((["--documents", "99999-9", "--sections", "all"], "--documents"),
                        (["--documents", "all", "--sections", "kidneys"], "--sections")):
        bad = carnet(server_env, "access", "matrix", "set", "--profession", "Podologue", *args)
        assert bad.returncode != 0 and named in bad.stderr, bad.stderr
    assert await AccessRule.all().count() == before
    shown = carnet(server_env, "access", "matrix", "show")
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert {"Ostéopathe", "Pharmacien"} <= {r["profession"] for r in rows}


async def test_the_migration_seeds_the_documented_matrix(server_env, tmp_path):
    # In a process of its own: migrating here would swap this process's keys and connections.
    env = {**server_env, "DATABASE_URL": f"sqlite://{tmp_path}/seed.sqlite3", "REDIS_URL": ""}
    result = carnet(env, "migrate")
    assert result.returncode == 0, result.stderr
    import aiosqlite

    async with aiosqlite.connect(tmp_path / "seed.sqlite3") as conn:
        rows = await (await conn.execute(
            "SELECT profession, specialty, document_types, sections, emergency "
            "FROM access_rule")).fetchall()
    seeded = {(p, s): (json.loads(d), json.loads(sec), bool(e)) for p, s, d, sec, e in rows}
    assert len(seeded) == len(migration_matrix()) == 8
    assert seeded[("Pharmacien", "")] == (["57833-6", "60593-1", "11369-6", "56445-0"],
                                          ["allergies", "vaccinations", "treatments"], False)
    assert [k for k, v in seeded.items() if v[2]] == [("Médecin", "Médecine d'urgence"),
                                                       ("Médecin", "Régulation médicale")]
    assert "organ_donation" not in seeded[("Infirmier", "")][1]
