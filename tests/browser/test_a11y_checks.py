"""The accessibility checks themselves (tests/browser/a11y.py), on small pages of their own: axe
finds what it should and passes a clean page, sideways scrolling is caught and explained,
screenshots are written, and a test's findings are gathered (once per problem, with widths).
No web app needed: headless Chromium and axe-core only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

from tests.browser import a11y

pytestmark = pytest.mark.browser

CLEAN = """<!doctype html><html lang="fr"><head><title>Propre</title></head><body>
<header><p>Carnet</p></header>
<main><h1>Mes documents</h1>
<label for="t">Titre</label> <input id="t" type="text">
<button style="color:#fff;background:#0d74ce;border:0;padding:4px">Continuer</button></main>
</body></html>"""

# White on Radix's blue-9 (3.26:1), an image without alternative text, an unlabelled field.
BROKEN = """<!doctype html><html lang="fr"><head><title>Cassé</title></head><body>
<main><h1>Mes documents</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<input id="t" type="text">
<button style="color:#fff;background:#0090ff;border:0;padding:4px">Continuer</button></main>
</body></html>"""

WIDE = """<!doctype html><html lang="fr"><head><title>Large</title></head><body>
<main><h1>Trop large</h1><div id="wide-table" style="width:600px">tableau</div></main>
</body></html>"""


@pytest.fixture
async def tab(browser_context: BrowserContext, axe_script: str) -> AsyncIterator[Page]:
    """A plain tab: no automatic checks, no findings gathered (checks fail at once)."""
    page = await browser_context.new_page()
    await page.set_viewport_size(a11y.WIDTHS[390])
    yield page
    await page.close()


async def test_a_clean_page_passes(tab: Page) -> None:
    await tab.set_content(CLEAN)
    assert await a11y.assert_accessible(tab, context="clean") == []
    await a11y.assert_no_horizontal_scroll(tab)


async def test_violations_fail_with_rule_impact_and_element(tab: Page) -> None:
    await tab.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failed:
        await a11y.assert_accessible(tab, context="broken page")
    message = str(failed.value)
    assert "on broken page (about:blank at 390 px)" in message
    assert "- color-contrast [serious]" in message
    assert "contrast of 3.26 (foreground color: #ffffff, background color: #0090ff" in message
    assert "- image-alt [critical]" in message
    assert "- label [critical]" in message
    assert '#t: <input id="t" type="text">' in message


async def test_sideways_scrolling_fails_and_names_what_sticks_out(tab: Page) -> None:
    await tab.set_content(WIDE)
    with pytest.raises(pytest.fail.Exception) as failed:
        await a11y.assert_no_horizontal_scroll(tab, context="wide")
    message = str(failed.value)
    assert "the page is 608 px wide in a 390 px window" in message
    assert "div#wide-table" in message
    await tab.set_viewport_size(a11y.WIDTHS[1280])
    await a11y.assert_no_horizontal_scroll(tab, context="wide")  # fits a laptop


async def test_check_page_gathers_each_problem_once_with_its_widths(
    tab: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(a11y, "SCREENSHOTS", tmp_path)
    findings = a11y.collect_on(tab)
    await tab.set_content(BROKEN)
    await a11y.check_at_widths(tab, "broken/page")
    await a11y.check_page(tab, "broken/page")  # again at 1280: nothing new
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken-page-1280px.axe.json", "broken-page-1280px.png",
        "broken-page-390px.axe.json", "broken-page-390px.png"]
    (problem,) = findings.problems
    assert "(about:blank at 390 px and 1280 px)" in problem
    with pytest.raises(pytest.fail.Exception) as failed:
        a11y.fail_on_findings(tab)
    assert str(failed.value).startswith("1 accessibility/layout problem:")
    assert findings.problems == []
    a11y.fail_on_findings(tab)  # told once

    # Fixed: the report of the earlier violations goes away with them.
    await tab.set_content(CLEAN)
    await a11y.check_page(tab, "broken/page")
    assert not (tmp_path / "broken-page-1280px.axe.json").exists()
    assert findings.problems == []
