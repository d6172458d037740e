"""Opt-out campaigns (issue 15 parts 2 and 3, backend/onboarding): the import (good lines in,
each rejection reported with its line number, idempotent, a known person not notified again,
identity sealed at rest), the provisional code (a keyed hash only, valid for the window), the
email notices (sent once, also with concurrent senders, retried after the lease) and the PDF
letters (one page a person without an email, each produced once). Runs on PostgreSQL and, with
CARNET_TEST_DATABASE=sqlite, on SQLite."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from tortoise import connections

from backend.crypto import Keyring, master_key_id, using_keyring
from backend.identity import accounts
from backend.identity.models import blind_indexes
from backend.keys import cli as keys_cli
from backend.onboarding import codes, importer, letters, notices
from backend.onboarding.errors import CampaignFileInvalid
from backend.onboarding.models import Campaign, NoticeChannel, NotifiedPerson, NotifiedStatus
from backend.settings import decode_master_key, generate_master_key
from tests.conftest import MASTER_KEY
from tests.factories import PASSWORD, make_nir

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["nir", "nom_naissance", "prenoms", "sexe", "date_naissance", "lieu_naissance",
          "adresse", "code_postal", "commune", "email", "telephone"]
CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")
NOW = datetime(2030, 12, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
async def rt(app, clean, notifier):
    return app.state.runtime


def line(nir: str, *, name: str = "DUPONT", first: str = "Jean", sex: str = "M",
         born: str = "1985-03-02", place: str = "75056", address: str = "",
         postal_code: str = "", city: str = "", email: str = "", phone: str = "") -> list[str]:
    return [nir, name, first, sex, born, place, address, postal_code, city, email, phone]


def write(tmp_path: Path, rows: list[list[str]], name: str = "campagne.csv",
          delimiter: str = ";") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


async def run_import(settings, path: Path, now: datetime = NOW):
    report: list[tuple[int, str, str]] = []
    result = await importer.import_file(settings, path, now=now,
                                        report=lambda *entry: report.append(entry))
    return result, report


async def _raw_rows() -> list[dict]:
    return await connections.get("default").execute_query_dict(
        'SELECT * FROM "campaign_person" ORDER BY "id"')


def _contains(row: dict, text: str) -> bool:
    needle = text.encode()
    for value in row.values():
        if isinstance(value, bytes | bytearray | memoryview) and needle in bytes(value):
            return True
        if isinstance(value, str) and text in value:
            return True
    return False


# --- import ------------------------------------------------------------------------------------


async def test_good_lines_are_imported_with_their_identity_sealed(rt, tmp_path):
    nir_a, nir_b = make_nir("1"), make_nir("2")
    path = write(tmp_path, [
        line(nir_a, email="Jean.Dupont@Exemple.fr", phone="06 12 34 56 78"),
        line(nir_b, name="Lefèvre", first="Marie Anne", sex="F", born="02/03/1990",
             place="2A004", address="12 rue des Lilas|Bâtiment B", postal_code="20000",
             city="Ajaccio"),
    ])

    result, report = await run_import(rt.settings, path)

    assert report == []
    assert (result.lines, result.imported, result.rejected) == (2, 2, 0)
    campaign = await Campaign.get(id=result.campaign_id)
    assert campaign.window_ends_at == NOW + timedelta(days=rt.settings.opt_out_window_days)
    a = await NotifiedPerson.get(nir_index__in=blind_indexes("matricule", nir_a))
    assert (a.channel, a.status, a.email, a.phone) == (
        NoticeChannel.EMAIL, NotifiedStatus.NOTIFIED, "Jean.Dupont@exemple.fr", "+33612345678")
    assert (a.matricule, a.birth_name, a.first_names, a.birth_date, a.birthplace_code) == (
        nir_a, "DUPONT", "Jean", date(1985, 3, 2), "75056")
    assert a.window_ends_at == campaign.window_ends_at and a.code_hash is None
    b = await NotifiedPerson.get(nir_index__in=blind_indexes("matricule", nir_b))
    assert (b.channel, b.email, b.birth_name, b.first_names, b.birth_date) == (
        NoticeChannel.LETTER, None, "LEFÈVRE", "Marie Anne", date(1990, 3, 2))
    assert json.loads(b.postal_address) == {"lines": ["12 rue des Lilas", "Bâtiment B"],
                                            "postal_code": "20000", "city": "AJACCIO"}
    # At rest: ciphertext only, and the row opens (sealed for its own column).
    for raw in await _raw_rows():
        for secret in (nir_a, nir_b, "DUPONT", "LEF", "Lilas", "exemple.fr", "1985-03-02",
                       "+33612345678", "75056"):
            assert not _contains(raw, secret), secret


async def test_each_rejection_reason_comes_with_its_line_number(rt, tmp_path):
    good, twice = make_nir("1"), make_nir("1")
    bad_key = good[:13] + f"{(int(good[13:]) % 97) + 1:02d}"
    path = tmp_path / "rejets.csv"
    rows = [
        line(good, email="a@exemple.fr"),  # 2 imported
        line(bad_key, email="b@exemple.fr"),  # 3 bad key
        line(make_nir("1"), born="1985-02-30", email="c@exemple.fr"),  # 4 impossible date
        line(twice, email="d@exemple.fr"),  # 5 imported (first occurrence)
        # 6-7: an address over two physical lines (a quoted field): one record, line 6
        line(make_nir("2"), sex="F", address="3 place du Marché\nEscalier C",
             postal_code="69001", city="Lyon"),
        line(twice, email="e@exemple.fr"),  # 8 duplicate of line 5
        line(make_nir("1")),  # 9 no email, no address
        line(make_nir("1"), email="pas-une-adresse"),  # 10 bad email
        line(make_nir("1"), sex="F", email="f@exemple.fr"),  # 11 sex against the NIR
        line("1234", email="g@exemple.fr"),  # 12 NIR too short
        line(make_nir("1"), address="1 rue Haute", postal_code="690", city="Lyon"),  # 13
        line(make_nir("1"), email="h@exemple.fr", phone="12"),  # 14 bad phone
        line(make_nir("1"), born="2200-01-01", email="i@exemple.fr"),  # 15 in the future
    ]
    long_line = line(make_nir("1"), email="k@exemple.fr", address="x" * 201,
                     postal_code="75001", city="Paris")  # 19: too long
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)
        handle.write("1;2;3\n")  # 16 wrong number of columns
        handle.write("\n")  # 17 blank: skipped
        writer.writerow(line(make_nir("2"), sex="F", born="1990-12-31",
                             email="j@exemple.fr"))  # 18 imported
        writer.writerow(long_line)

    result, report = await run_import(rt.settings, path)

    assert [(n, reason) for n, reason, _ in report] == [
        (3, "nir_key"), (4, "birth_date"), (8, "duplicate"), (9, "missing_contact"),
        (10, "email"), (11, "sex"), (12, "nir_length"), (13, "address"), (14, "phone"),
        (15, "birth_date"), (16, "columns"), (19, "too_long")]
    assert report[2][2] == "NIR en double dans le fichier (première occurrence ligne 5)."
    assert (result.lines, result.imported, result.rejected, result.duplicates) == (16, 4, 11, 1)
    assert await NotifiedPerson.all().count() == 4
    [letter] = await NotifiedPerson.filter(channel=NoticeChannel.LETTER)
    assert json.loads(letter.postal_address)["lines"] == ["3 place du Marché", "Escalier C"]


async def test_the_same_file_twice_changes_nothing(rt, tmp_path):
    path = write(tmp_path, [line(make_nir("1"), email=f"p{i}@exemple.fr") for i in range(5)]
                 + [line("1234", email="x@exemple.fr")])
    first, first_report = await run_import(rt.settings, path)
    before = await _raw_rows()

    again, again_report = await run_import(rt.settings, path, now=NOW + timedelta(days=3))

    assert await _raw_rows() == before
    assert await Campaign.all().count() == 1
    assert again.campaign_id == first.campaign_id
    assert again.window_ends_at == first.window_ends_at  # the campaign's, not the re-run's
    assert (again.imported, again.already_imported, again.rejected) == (0, 5, 1)
    assert again_report == first_report == [(7, "nir_length", importer.REASONS["nir_length"])]


async def test_a_known_person_is_not_notified_again(rt, tmp_path):
    patient_nir, notified_nir, fresh = make_nir("1"), make_nir("2"), make_nir("1")
    await accounts.create_patient(
        nir=patient_nir, birth_name="Martin", first_names="Paul", birth_date=date(1980, 1, 1),
        sex="M", birthplace="75056",
        contact=accounts.ContactInput(email="paul@exemple.fr", phone=None, identifier=None,
                                      password=PASSWORD))
    first = write(tmp_path, [line(notified_nir, sex="F", email="marie@exemple.fr")], "a.csv")
    await run_import(rt.settings, first)
    original = await NotifiedPerson.get(nir_index__in=blind_indexes("matricule", notified_nir))

    second = write(tmp_path, [line(patient_nir, email="paul2@exemple.fr"),
                              line(notified_nir, sex="F", email="autre@exemple.fr"),
                              line(fresh, email="neuf@exemple.fr")], "b.csv")
    result, report = await run_import(rt.settings, second)

    assert [(n, reason) for n, reason, _ in report] == [(2, "already_known"),
                                                        (3, "already_known")]
    assert (result.imported, result.already_known) == (1, 2)
    assert await NotifiedPerson.filter(nir_index__in=blind_indexes("matricule",
                                                                   patient_nir)).count() == 0
    again = await NotifiedPerson.get(nir_index__in=blind_indexes("matricule", notified_nir))
    assert (again.id, again.campaign_id, again.email) == (original.id, original.campaign_id,
                                                          "marie@exemple.fr")


async def test_a_file_without_the_required_columns_imports_nothing(rt, tmp_path):
    path = tmp_path / "mauvais.csv"
    path.write_text("nir;nom_naissance;email\n1850175056001;X;a@b.fr\n", encoding="utf-8")
    with pytest.raises(CampaignFileInvalid) as caught:
        await run_import(rt.settings, path)
    assert "prenoms" not in str(caught.value) and "first_names" in str(caught.value)
    assert await NotifiedPerson.all().count() == 0


# --- the email notice and its code -------------------------------------------------------------


async def _import_emails(rt, tmp_path, n: int, letters_too: int = 0) -> list[str]:
    emails = [f"personne{i}@exemple.fr" for i in range(n)]
    rows = [line(make_nir("1"), email=e) for e in emails]
    rows += [line(make_nir("2"), sex="F", address=f"{i} rue Basse", postal_code="75011",
                  city="Paris") for i in range(letters_too)]
    await run_import(rt.settings, write(tmp_path, rows), now=datetime.now(UTC))
    return emails


async def test_the_code_is_sent_once_and_stored_as_a_keyed_hash_only(rt, notifier, tmp_path):
    [email] = await _import_emails(rt, tmp_path, 1, letters_too=1)

    report = await notices.send_pending_notices(rt, 10)

    assert (report.claimed, report.sent, report.failed) == (1, 1, 0)
    [message] = notifier.sent
    assert message.to == email and message.subject == notices.SUBJECT
    [code] = CODE.findall(message.text)
    person = await NotifiedPerson.get(channel=NoticeChannel.EMAIL)
    end = notices.window_end_text(person.window_ends_at)
    assert f"Votre code provisoire : {code}" in message.text
    assert f"jusqu'au {end}" in message.text and rt.settings.campaign_page_url in message.text
    assert "refuser" in message.text and "activer" in message.text
    # Only its keyed hash is kept, bound to the row: not the code, nor a plain digest of it.
    assert person.code_hash == codes.hash_for_storage(rt.settings, person.id, code)
    for raw in await _raw_rows():
        assert not _contains(raw, code) and not _contains(raw, code.replace("-", ""))
    assert codes.code_matches(rt.settings, person.id, person.code_hash, code)
    assert codes.code_matches(rt.settings, person.id, person.code_hash,
                              code.lower().replace("-", " "))
    assert not codes.code_matches(rt.settings, person.id + 1, person.code_hash, code)
    assert not codes.code_matches(rt.settings, person.id, person.code_hash, codes.draw_code())
    # Valid for the window: the window is the campaign's, OPT_OUT_WINDOW_DAYS after import.
    campaign = await Campaign.get(id=person.campaign_id)
    assert person.window_ends_at == campaign.window_ends_at
    assert campaign.window_ends_at - campaign.created_at == timedelta(days=42)
    # The letter person gets no email; a second round sends nothing.
    again = await notices.send_pending_notices(rt, 10)
    assert (again.claimed, len(notifier.sent)) == (0, 1)


async def test_emails_go_out_once_with_concurrent_senders(rt, notifier, tmp_path):
    emails = await _import_emails(rt, tmp_path, 40, letters_too=3)

    async def sender() -> None:
        while (await notices.send_pending_notices(rt, 3)).claimed:
            pass

    await asyncio.gather(*(sender() for _ in range(4)))
    await asyncio.gather(*(sender() for _ in range(2)))  # and again: nothing left

    assert Counter(m.to for m in notifier.sent) == Counter(emails)
    assert await NotifiedPerson.filter(channel=NoticeChannel.EMAIL,
                                       sent_at__isnull=True).count() == 0
    assert await NotifiedPerson.filter(channel=NoticeChannel.LETTER,
                                       sent_at__isnull=False).count() == 0
    sent_codes = {CODE.findall(m.text)[0] for m in notifier.sent}
    assert len(sent_codes) == 40


async def test_a_failed_email_is_tried_again_after_the_lease(rt, notifier, tmp_path):
    [email] = await _import_emails(rt, tmp_path, 1)
    notifier.failing.add("email")
    now = datetime.now(UTC)

    failed = await notices.send_pending_notices(rt, 10, now=now)
    assert (failed.claimed, failed.sent, failed.failed) == (1, 0, 1)
    notifier.failing.clear()
    # Still claimed by the failed attempt: nobody sends it before the lease ends.
    assert (await notices.send_pending_notices(rt, 10, now=now)).claimed == 0
    later = now + timedelta(seconds=rt.settings.campaign_notice_lease_seconds + 1)
    done = await notices.send_pending_notices(rt, 10, now=later)
    assert (done.claimed, done.sent) == (1, 1)
    assert [m.to for m in notifier.sent] == [email]
    person = await NotifiedPerson.get(email__isnull=False)
    assert (person.notice_attempts, person.notice_claim) == (2, None)
    assert person.code_hash is not None and person.sent_at == later


async def test_no_notice_after_the_window_or_once_refused(rt, notifier, tmp_path):
    await _import_emails(rt, tmp_path, 2)
    first = await NotifiedPerson.all().order_by("id").first()
    await NotifiedPerson.filter(id=first.id).update(status=NotifiedStatus.REFUSED)
    late = first.window_ends_at + timedelta(seconds=1)
    assert (await notices.send_pending_notices(rt, 10, now=late)).claimed == 0
    report = await notices.send_pending_notices(rt, 10)
    assert (report.claimed, report.sent) == (1, 1)


# --- letters -------------------------------------------------------------------------------------


def _pdf(path: Path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


async def test_letters_are_printable_pdf_batches_produced_once(rt, notifier, tmp_path):
    await _import_emails(rt, tmp_path, 1, letters_too=3)
    out = tmp_path / "courriers"

    written = await letters.write_pending_letters(rt.settings, out, batch_size=2)

    assert [f.letters for f in written] == [2, 1]
    assert sorted(p.name for p in out.iterdir()) == sorted(f.path.name for f in written)
    texts = []
    for file in written:
        pages, text = _pdf(file.path)
        assert pages == file.letters
        texts.append(text)
    text = "\n".join(texts)
    found = CODE.findall(text)
    assert len(found) == 3
    rows = await NotifiedPerson.filter(channel=NoticeChannel.LETTER).order_by("id")
    assert all(r.sent_at is not None and r.letter_batch for r in rows)
    for row in rows:  # each letter's code is the one whose hash its row keeps
        assert sum(codes.code_matches(rt.settings, row.id, row.code_hash, c) for c in found) == 1
    assert "Votre code provisoire" in text and rt.settings.campaign_page_url in text
    assert notices.window_end_text(rows[0].window_ends_at) in text
    assert "JEAN DUPONT" in text.upper() and "75011 PARIS" in text
    assert "refuser" in text and "activer" in text
    # The email person has no letter; the next run writes nothing new.
    email_person = await NotifiedPerson.get(channel=NoticeChannel.EMAIL)
    assert email_person.sent_at is None and email_person.letter_batch is None
    assert await letters.write_pending_letters(rt.settings, out) == []
    assert notifier.sent == []


async def test_a_batch_interrupted_after_its_commit_is_finished_by_the_next_run(
        rt, tmp_path, monkeypatch):
    await _import_emails(rt, tmp_path, 0, letters_too=2)
    out = tmp_path / "courriers"
    real_replace = letters.os.replace

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(letters.os, "replace", crash)
    with pytest.raises(OSError):
        await letters.write_pending_letters(rt.settings, out)
    [part] = list(out.iterdir())
    assert part.name.endswith(".pdf.part")
    monkeypatch.setattr(letters.os, "replace", real_replace)

    [finished] = await letters.write_pending_letters(rt.settings, out)

    assert finished.letters == 2 and finished.path.name == part.name.removesuffix(".part")
    assert [p.name for p in out.iterdir()] == [finished.path.name]
    assert _pdf(finished.path)[0] == 2


async def test_a_batch_that_died_before_its_commit_is_printed_again(rt, tmp_path, monkeypatch):
    await _import_emails(rt, tmp_path, 0, letters_too=2)
    out = tmp_path / "courriers"

    async def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(letters, "mark_sent", crash)
    with pytest.raises(RuntimeError):
        await letters.write_pending_letters(rt.settings, out)
    monkeypatch.undo()
    assert list(out.iterdir()) == []  # the unmarked part was removed
    assert await NotifiedPerson.filter(sent_at__isnull=False).count() == 0
    # Still claimed by the dead run until its lease ends, then printed once.
    assert await letters.write_pending_letters(rt.settings, out) == []
    later = datetime.now(UTC) + timedelta(seconds=rt.settings.campaign_notice_lease_seconds + 1)
    [done] = await letters.write_pending_letters(rt.settings, out, now=later)
    assert done.letters == 2


# --- logs and the command ----------------------------------------------------------------------


async def test_no_identity_data_or_code_in_the_logs(rt, notifier, tmp_path, caplog):
    nir = make_nir("1")
    path = write(tmp_path, [
        line(nir, name="Zébulon", first="Anatole", email="anatole.z@exemple.fr",
             phone="0611223344"),
        line(make_nir("2"), name="Quintal", first="Berthe", sex="F", address="7 impasse Oubli",
             postal_code="13001", city="Marseille"),
        line(nir[:13] + "00", email="x@exemple.fr"),
    ])
    notifier.failing.add("email")
    with caplog.at_level(logging.DEBUG):
        await run_import(rt.settings, path)
        await notices.send_pending_notices(rt, 10)
        notifier.failing.clear()
        later = datetime.now(UTC) + timedelta(hours=1)
        await notices.send_pending_notices(rt, 10, now=later)
        await letters.write_pending_letters(rt.settings, tmp_path / "out")
    [message] = notifier.sent
    [code] = CODE.findall(message.text)
    assert "campaign notice failed (email, DeliveryFailed)" in caplog.text
    assert "campaign" in caplog.text  # the counts were logged
    for secret in (nir, nir[:13], "ZÉBULON", "Zébulon", "Anatole", "anatole.z", "0611223344",
                   "+33611223344", "QUINTAL", "Berthe", "Oubli", "13001", code,
                   code.replace("-", "")):
        assert secret not in caplog.text, secret


def test_the_command_imports_and_writes_the_report(server_env, migrated, tmp_path):
    path = write(tmp_path, [line(make_nir("1"), email="cli@exemple.fr"),
                            line("1234", email="y@exemple.fr")], "cli.csv", delimiter=",")
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "campaign", "import", str(path)],
        cwd=ROOT, env={**server_env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["rejected"]) == (2, 1)
    assert summary["imported"] + summary["alreadyImported"] == 1
    report = Path(summary["report"]).read_text(encoding="utf-8").splitlines()
    assert report[0] == "ligne;motif;explication"
    assert report[1].startswith("3;nir_length;")
    assert "1234" not in report[1] and "y@exemple" not in "".join(report)

    bad = tmp_path / "bad.csv"
    bad.write_text("nom\nX\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "backend.cli", "campaign", "import", str(bad)],
        cwd=ROOT, env={**server_env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120)
    assert refused.returncode == 2 and "colonnes obligatoires manquantes" in refused.stderr


# --- master key rotation -------------------------------------------------------------------------


async def test_rotation_reseals_notified_persons_and_codes_and_known_nirs_still_match(
        rt, notifier, tmp_path):
    old, new = decode_master_key(MASTER_KEY), generate_master_key()
    new_key = decode_master_key(new)
    nir, late_nir = make_nir("1"), make_nir("2")
    await run_import(rt.settings, write(tmp_path, [line(nir, email="tourne@exemple.fr")], "a.csv"),
                     now=datetime.now(UTC))
    await notices.send_pending_notices(rt, 10)
    [code] = CODE.findall(notifier.sent[0].text)

    assert (await keys_cli.rotate_command(rt.settings, new))["resealed"] == 1  # the campaign row
    switched = rt.settings.model_copy(update={"carnet_master_key": new,
                                              "carnet_previous_master_keys": [MASTER_KEY]})
    # A process still on the old key creates a patient meanwhile (indexed under the old key).
    with using_keyring(Keyring(old)):
        await accounts.create_patient(
            nir=late_nir, birth_name="Tardif", first_names="Lise", birth_date=date(1980, 1, 1),
            sex="F", birthplace="75056",
            contact=accounts.ContactInput(email="lise@exemple.fr", phone=None, identifier=None,
                                          password=PASSWORD))
    with using_keyring(Keyring(new_key, [old])):
        person = await NotifiedPerson.get(nir_index__in=blind_indexes("matricule", nir))
        assert person.key_id == master_key_id(new_key) and person.email == "tourne@exemple.fr"
        # The code's hash was made under the old key: still accepted.
        assert codes.code_matches(switched, person.id, person.code_hash, code)
        result, report = await run_import(
            switched, write(tmp_path, [line(nir, email="x@exemple.fr"),
                                       line(late_nir, sex="F", email="y@exemple.fr")], "b.csv"))
    assert [(n, reason) for n, reason, _ in report] == [(2, "already_known"),
                                                        (3, "already_known")]
    assert result.imported == 0


async def test_worker_processes_seal_rows_that_open_here(rt, tmp_path):
    nirs = [make_nir("1") for _ in range(7)]
    path = write(tmp_path, [line(n, email=f"w{i}@exemple.fr") for i, n in enumerate(nirs)]
                 + [line("1234", email="z@exemple.fr")])
    report: list[tuple[int, str, str]] = []
    result = await importer.import_file(rt.settings, path, now=NOW, batch_size=2, jobs=2,
                                        report=lambda *entry: report.append(entry))
    assert (result.lines, result.imported, [r[:2] for r in report]) == (8, 7,
                                                                      [(9, "nir_length")])
    rows = await NotifiedPerson.all().order_by("id")
    assert [r.matricule for r in rows] == nirs
    assert [r.email for r in rows] == [f"w{i}@exemple.fr" for i in range(7)]


async def test_a_crash_before_the_commit_leaves_nothing_and_the_next_run_imports_all(
        rt, tmp_path, monkeypatch):
    path = write(tmp_path, [line(make_nir("1"), email=f"c{i}@exemple.fr") for i in range(6)])
    real_execute = importer._Staging.execute

    async def crash_after_the_insert(self, text, *args):
        if text == importer._RACED:  # the insert ran, in the same transaction
            raise RuntimeError("killed")
        return await real_execute(self, text, *args)

    monkeypatch.setattr(importer._Staging, "execute", crash_after_the_insert)
    with pytest.raises(RuntimeError):
        await run_import(rt.settings, path)
    assert await NotifiedPerson.all().count() == 0
    monkeypatch.undo()

    result, report = await run_import(rt.settings, path)
    assert (result.imported, report) == (6, [])
    # The batches that reach the database are bounded, whatever the file's size.
    assert [len(b) for b in importer.raw_batches(path, 4)] == [4, 2]
