"""Historique des accès, with a fake `api.execute`: entries in plain French (who, when in Paris
time, what, on which ground), newest first as the API gives them, "Voir plus", errors, and what
needs a session."""

from __future__ import annotations

from typing import Any

import pytest
from carnet_web import api
from carnet_web.state.access_history import (
    PAGE_SIZE,
    AccessHistoryState,
    access_items,
    count_label,
    what_label,
)
from carnet_web.state.session import LOGIN_ROUTE, SessionState

from tests.frontend.fakes import FakeApi, focused, redirects, run

TOKEN = "jeton-de-session-secret"
DOCTOR = {"id": "7", "rpps": "10000000007", "profession": "Médecin",
          "specialty": "Médecine générale", "practiceName": "Cabinet du Port"}


def node(n: int, *, kind: str = "DOCUMENT", ground: str = "CARE_TEAM",
         section: str | None = None, professional: dict | None = DOCTOR,
         profession: str | None = "Médecin") -> dict:
    return {"node": {"id": str(n), "at": "2026-07-14T08:05:00+00:00", "kind": kind,
                     "section": section, "documentId": "d1" if "DOCUMENT" in kind else None,
                     "ground": ground,
                     "reader": {"profession": profession, "professional": professional}}}


def connection(*edges: dict, total: int, more: bool = False, cursor: str = "c") -> dict:
    return {"accessLog": {"totalCount": total, "edges": list(edges),
                          "pageInfo": {"hasNextPage": more, "endCursor": cursor}}}


def signed_in(state: SessionState) -> Any:
    state._sign_in(TOKEN, "jeanne@example.fr")
    return state


def test_entries_in_plain_french() -> None:
    doc, profile, emergency = access_items([
        node(3),
        node(2, kind="PROFILE", section="allergies", ground="TREATING_DOCTOR"),
        node(1, kind="EMERGENCY_ACCESS", ground="EMERGENCY"),
    ])
    assert doc.when == "14 juillet 2026 à 10:05"  # Paris summer time
    assert (doc.who, doc.practice, doc.rpps) == (
        "Médecin (Médecine générale)", "Cabinet du Port", "10000000007")
    assert doc.what == "La fiche d'un de vos documents"
    assert doc.ground == "Membre de votre équipe de soins (ajouté par vous)"
    assert not doc.emergency
    assert profile.what == "Votre profil médical : allergies"
    assert profile.ground == "Votre médecin traitant"
    assert emergency.what == "L'ouverture de votre dossier en urgence"
    assert emergency.ground == "Accès d'urgence" and emergency.emergency


@pytest.mark.parametrize(("kind", "section", "label"), [
    ("DOCUMENT_CONTENT", None, "Le contenu d'un de vos documents (ouverture ou téléchargement)"),
    ("DOCUMENT_LIST", None, "La liste de vos documents"),
    ("EXPORT", None, "L'ensemble de votre dossier (export complet)"),
    ("PROFILE", "medical_history", "Votre profil médical : antécédents médicaux"),
    ("PROFILE", "a_new_section", "Votre profil médical : a new section"),
    ("PROFILE", None, "Votre profil médical"),
])
def test_what_was_read(kind: str, section: str | None, label: str) -> None:
    assert what_label(kind, section) == label


def test_who_when_the_professional_is_gone_or_not_a_professional() -> None:
    gone, account = access_items([node(2, professional=None),
                                  node(1, professional=None, profession=None)])
    assert (gone.who, gone.practice, gone.rpps) == ("Médecin", "", "")
    assert account.who == "Un compte Carnet"


def test_an_apps_read_names_the_app_in_both_languages() -> None:
    entry = node(1, kind="MESSAGES", ground="APP", professional=None, profession=None)
    entry["node"]["reader"]["appName"] = "Carnet Poids"
    (fr,) = access_items([entry])
    assert (fr.who, fr.what, fr.ground) == ("Application « Carnet Poids »", "Vos messages",
                                            "Application que vous avez autorisée")
    (en,) = access_items([entry], "en")
    assert (en.who, en.what) == ("App “Carnet Poids”", "Your messages")
    (agenda,) = access_items([node(2, kind="AGENDA")], "en")
    assert agenda.what == "Your appointments"


def test_declared_ground() -> None:
    (entry,) = access_items([node(1, ground="DECLARED")])
    assert entry.ground == "Relation de soins déclarée par le professionnel"


@pytest.mark.parametrize(("shown", "total", "label"), [
    (0, 0, "Aucun accès à votre dossier pour l'instant : personne d'autre que vous ne l'a "
           "consulté."),
    (1, 1, "1 accès à votre dossier."),
    (3, 3, "3 accès à votre dossier."),
    (20, 45, "45 accès à votre dossier, les 20 plus récents affichés."),
])
def test_count_label(shown: int, total: int, label: str) -> None:
    assert count_label(shown, total) == label


async def test_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = AccessHistoryState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_load_then_voir_plus_appends_older_entries(fake_api: FakeApi) -> None:
    fake_api.answer("AccessLog",
                    connection(node(3), node(2), total=3, more=True, cursor="c2"),
                    connection(node(1), total=3, more=False, cursor="c1"))
    state = signed_in(AccessHistoryState())
    await run(state.load())
    assert [e.id for e in state.entries] == ["3", "2"]
    assert state.has_more and state.total == 3
    assert fake_api.calls[0].variables == {"first": PAGE_SIZE, "after": None}
    assert fake_api.calls[0].token == TOKEN

    events = await run(state.load_more())
    assert fake_api.calls[1].variables == {"first": PAGE_SIZE, "after": "c2"}
    assert [e.id for e in state.entries] == ["3", "2", "1"]
    assert not state.has_more and not state.loading_more
    # The keyboard goes on at the first older entry.
    assert focused(events) == ["access-1"]

    await run(state.load_more())  # nothing more to read
    assert len(fake_api.calls) == 2


async def test_reload_starts_again_from_the_newest(fake_api: FakeApi) -> None:
    fake_api.answer("AccessLog", connection(node(2), total=2, more=True, cursor="c2"),
                    connection(node(4), node(3), total=4, more=True, cursor="c3"))
    state = signed_in(AccessHistoryState())
    await run(state.load())
    await run(state.load())
    assert [e.id for e in state.entries] == ["4", "3"]
    assert fake_api.calls[1].variables["after"] is None


async def test_api_down_shows_the_error_and_keeps_what_was_shown(fake_api: FakeApi) -> None:
    fake_api.answer("AccessLog", connection(node(2), total=2, more=True, cursor="c2"),
                    api.ApiUnavailable())
    state = signed_in(AccessHistoryState())
    await run(state.load())
    await run(state.load_more())
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert [e.id for e in state.entries] == ["2"] and state.has_more
    assert state.signed_in and not state.loading_more


async def test_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("AccessLog", api.ApiUnauthenticated())
    state = signed_in(AccessHistoryState())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert not state.signed_in and state.entries == []


async def test_signing_out_forgets_the_history(fake_api: FakeApi) -> None:
    fake_api.answer("AccessLog", connection(node(1), total=1))
    fake_api.answer("Logout", {"logout": {"sessionsClosed": 1}})
    session = signed_in(SessionState())
    history = session.substates[AccessHistoryState.get_name()]
    await run(history.load())
    assert history.entries
    await run(session.logout())
    assert history.entries == [] and history.total == 0 and history._end_cursor == ""
