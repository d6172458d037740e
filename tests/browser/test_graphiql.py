"""GraphiQL in Chromium with every other host blocked (issue 9, item 13): a machine without
internet must still get the editor, not a page stuck on "Loading...".

Only the API is needed (no web app). Needs GraphiQL's assets (`make graphiql`).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Page, Request, Route, expect

from tests.test_graphiql import _require_assets

pytestmark = pytest.mark.browser


async def test_graphiql_works_with_other_hosts_blocked(api_server: str, page: Page) -> None:
    _require_assets()
    own = urlsplit(api_server).netloc
    blocked: list[str] = []
    problems: list[str] = []

    async def only_our_server(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == own or request.url.startswith("data:"):
            await route.continue_()
        else:
            blocked.append(request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_our_server)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(f"{api_server}/graphql?q={quote('{ __typename }')}")
    # The editor rendered (React + GraphiQL ran): its query editor and its run button.
    run = page.locator(".graphiql-execute-button")
    await expect(run).to_be_visible(timeout=30_000)
    await expect(page.get_by_text("Loading...", exact=True)).to_have_count(0)
    await expect(page.locator(".graphiql-query-editor")).to_be_visible()
    # The Headers tab (to paste the bearer token, see README) is there.
    await expect(page.get_by_text("Headers", exact=True)).to_be_visible()

    # A query runs against the API (fetch allowed by the page's CSP).
    await run.click()
    await expect(page.locator(".result-window")).to_contain_text('"__typename": "Query"',
                                                                 timeout=15_000)
    assert blocked == [], f"GraphiQL tried to reach other hosts: {blocked}"
    assert not [p for p in problems if "Content Security Policy" in p], problems
