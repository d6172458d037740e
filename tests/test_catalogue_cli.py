"""`carnet apps ...` through the real entry point: JSON out, errors naming the field, nothing
created on error, the status machine with its history."""

from __future__ import annotations

import json

from backend.catalogue.models import AppStatus, CatalogueApp, CatalogueStatusChange
from tests.catalogue_helpers import ALL_CRITERIA, EXAMPLE, example
from tests.test_operator_cli import carnet


def _write(tmp_path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


async def test_submit_the_example_and_walk_the_status_machine(server_env, clean):
    submitted = carnet(server_env, "apps", "submit", str(EXAMPLE), "--operator", "alice")
    assert submitted.returncode == 0, submitted.stderr
    out = json.loads(submitted.stdout)
    ident = out["id"]
    assert out["status"] == "submitted"
    assert (await CatalogueApp.get(id=ident)).name == "Carnet Poids"

    refused = carnet(server_env, "apps", "suspend", ident, "--reason", "trop tôt")
    assert refused.returncode == 2 and "submitted" in refused.stderr
    ok = carnet(server_env, "apps", "reference", ident, "--reason", "Dossier complet",
                "--operator", "bob")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "referenced"
    for action, reason in (("suspend", "Faille signalée"), ("reference", "Corrigée"),
                           ("withdraw", "Fin du service")):
        result = carnet(server_env, "apps", action, ident, "--reason", reason)
        assert result.returncode == 0, result.stderr
    final = carnet(server_env, "apps", "reference", ident, "--reason", "retour")
    assert final.returncode == 2 and "withdrawn" in final.stderr

    shown = json.loads(carnet(server_env, "apps", "show", ident).stdout)
    assert [(h["status"], h["reason"]) for h in shown["history"]] == [
        ("submitted", "Soumission"), ("referenced", "Dossier complet"),
        ("suspended", "Faille signalée"), ("referenced", "Corrigée"),
        ("withdrawn", "Fin du service")]
    assert [h["operator"] for h in shown["history"]][:2] == ["alice", "bob"]
    assert shown["redirectUris"][0] == "https://poids.example.fr/oauth/callback"


async def test_referencing_needs_the_whole_checklist(server_env, clean, tmp_path):
    path = _write(tmp_path, "app.json", example(criteria=None))
    ident = json.loads(carnet(server_env, "apps", "submit", path).stdout)["id"]
    partial = carnet(server_env, "apps", "reference", ident, "--reason", "ok",
                     "--criteria", ",".join(ALL_CRITERIA[:-1]))
    assert partial.returncode == 2 and ALL_CRITERIA[-1] in partial.stderr
    bad = carnet(server_env, "apps", "reference", ident, "--reason", "ok", "--criteria",
                 "hds_hosting,shiny")
    assert bad.returncode == 2 and "criteria[1]" in bad.stderr
    assert (await CatalogueApp.get(id=ident)).status is AppStatus.SUBMITTED
    ok = carnet(server_env, "apps", "reference", ident, "--reason", "ok", "--criteria",
                ",".join(ALL_CRITERIA))
    assert ok.returncode == 0, ok.stderr
    assert await CatalogueStatusChange.filter(app_id=ident).count() == 2


async def test_invalid_files_exit_non_zero_and_create_nothing(server_env, clean, tmp_path):
    cases = [
        (example(privacyPolicyUrl="http://poids.example.fr/vie-privee"), "privacyPolicyUrl"),
        (example(redirectUris=["https://poids.example.fr/cb#x"]), "redirectUris[0]"),
        (example(scopes=[{"scope": "everything:write"}]), "scopes[0].scope"),
        (example(name=None), "name"),
        ("{not json", "not valid JSON"),
        ([1, 2], "(fichier)"),
    ]
    for index, (data, named) in enumerate(cases):
        result = carnet(server_env, "apps", "submit", _write(tmp_path, f"{index}.json", data))
        assert result.returncode != 0
        assert named in result.stderr, result.stderr
    missing = carnet(server_env, "apps", "submit", str(tmp_path / "absent.json"))
    assert missing.returncode != 0 and "absent.json" in missing.stderr
    unknown = carnet(server_env, "apps", "withdraw", "0b4a0c3e-0000-4000-8000-000000000000",
                     "--reason", "x")
    assert unknown.returncode == 2 and "introuvable" in unknown.stderr
    assert await CatalogueApp.all().count() == 0


async def test_list_by_status(server_env, clean, tmp_path):
    first = json.loads(carnet(server_env, "apps", "submit", str(EXAMPLE)).stdout)["id"]
    second_file = _write(tmp_path, "b.json", example(name="Agenda Facile",
                                                      categories=["appointments"]))
    second = json.loads(carnet(server_env, "apps", "submit", second_file).stdout)["id"]
    assert carnet(server_env, "apps", "reference", second, "--reason", "ok").returncode == 0
    everything = [json.loads(line) for line in
                  carnet(server_env, "apps", "list").stdout.splitlines()]
    assert [(a["name"], a["status"]) for a in everything] == [
        ("Agenda Facile", "referenced"), ("Carnet Poids", "submitted")]
    assert everything[0]["categories"] == ["appointments"]
    only = carnet(server_env, "apps", "list", "--status", "submitted").stdout.splitlines()
    assert [json.loads(line)["id"] for line in only] == [first]
    criteria = carnet(server_env, "apps", "criteria").stdout.splitlines()
    assert [json.loads(line)["code"] for line in criteria] == ALL_CRITERIA
