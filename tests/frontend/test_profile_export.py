"""The FHIR export of the profile (state/profile/fhir.py), with a fake `api.execute`: the Bundle
is fetched with the tab's token and downloaded, the token never reaching the browser."""

from __future__ import annotations

import base64
import json

from carnet_web import api
from carnet_web.state.profile import ProfileState, exported_message
from carnet_web.state.session import LOGIN_ROUTE

from tests.frontend.fakes import FakeApi, redirects, run
from tests.frontend.profile_answers import TOKEN, downloads, loaded


async def test_export_downloads_the_bundle_fetched_with_the_token(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "AllergyIntolerance",
                      "code": {"text": "Pénicilline <b>G</b>"}}}]}
    fake_api.answer("FhirEverything", {"fhirEverything": bundle})
    events = await run(state.export_fhir())
    call = fake_api.called("FhirEverything")[0]
    assert call.token == TOKEN
    (download,) = downloads(events)
    assert download["filename"] == "carnet-dossier-fhir.json"
    prefix = "data:application/fhir+json;base64,"
    assert download["url"].startswith(prefix)
    assert json.loads(base64.b64decode(download["url"][len(prefix):])) == bundle
    assert TOKEN not in download["url"]
    assert state.info == "Votre dossier a été exporté (1 ressource)."
    assert not state.exporting


async def test_export_says_what_it_did_in_the_tab_language(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, language="en")
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {}}, {"resource": {}}]}
    fake_api.answer("FhirEverything", {"fhirEverything": json.dumps(bundle)})
    events = await run(state.export_fhir())
    assert len(downloads(events)) == 1
    assert state.info == "Your record has been exported (2 resources)."
    assert exported_message(0, "en") == "Your record has been exported."
    assert exported_message(3) == "Votre dossier a été exporté (3 ressources)."


async def test_export_failing_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("FhirEverything", api.ApiUnavailable())
    events = await run(state.export_fhir())
    assert downloads(events) == []
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.exporting

    fake_api.answer("FhirEverything", {"fhirEverything": None})
    state.lang = "en"
    assert downloads(await run(state.export_fhir())) == []
    assert state.error == "The export returned nothing. Please try again."


async def test_export_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ProfileState()
    assert redirects(await run(state.export_fhir())) == [LOGIN_ROUTE]
    assert fake_api.calls == []
