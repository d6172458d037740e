"""Accessibility and layout checks for the browser tests: axe-core (every rule of WCAG 2.0 and
2.1 A/AA plus axe's best practices; any violation, of any impact, fails), no sideways scrolling,
and a screenshot of each state that fails.

    await check_page(page, "documents-delete-dialog")     # this state, at the current width
    await check_at_widths(page, "documents")               # at 390 x 844, then 1280 x 800

The `page` fixture (conftest.py) also checks every page a test opens with `page.goto` on the web
app, and the tab's last state when a test passes; a test's problems are gathered and fail it at
its end, all together (see `Findings`).

Screenshots go to $CARNET_SCREENSHOTS, by default var/screenshots/ (gitignored): one PNG per
state and width where axe found violations, with a `.axe.json` beside it; with
CARNET_SCREENSHOTS_ALL=1, one for every state checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.browser import axe
from tests.servers import ROOT

#: Every rule with one of these tags runs (axe's experimental rules stay off).
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
#: A phone (the narrowest width Carnet supports) and a laptop.
WIDTHS: dict[int, dict[str, int]] = {
    390: {"width": 390, "height": 844},
    1280: {"width": 1280, "height": 800},
}
SCREENSHOTS = Path(os.environ.get("CARNET_SCREENSHOTS") or ROOT / "var" / "screenshots")
# The first load of a page compiles its modules in Vite dev mode: give it time.
FIRST_LOAD_TIMEOUT = 90_000
HTML_SNIPPET = 200  # characters of each failing element's HTML in a message
NODES_SHOWN = 5  # failing elements listed per rule
#: Playwright's `evaluate` has no timeout of its own: a renderer that stops answering (seen
#: once in CI, on a loaded machine) would hang the test until pytest-timeout kills it, telling
#: nothing. A check that takes longer than this fails, saying which page and which step.
EVALUATE_TIMEOUT_S = 120

# Wait until the page is still: no DOM change for `quietMs`, no finite animation running (a
# dialog fading in would fail colour contrast), no loading indicator showing (a spinner outside
# a button, or aria-busy), fonts loaded. Gives up after `maxMs` and lets the check run anyway.
_SETTLE_JS = """async ({quietMs, maxMs}) => {
  const start = performance.now();
  let last = start;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document, {subtree: true, childList: true, attributes: true,
                              characterData: true});
  const busy = () => [...document.querySelectorAll('.rt-Spinner, [aria-busy="true"]')]
    .some(el => !el.closest('button') && el.getClientRects().length > 0);
  const animating = () => document.getAnimations().some(a => a.playState === 'running'
    && a.effect && a.effect.getTiming().iterations !== Infinity);
  try {
    await document.fonts.ready;
    while (performance.now() - start < maxMs) {
      await new Promise(resolve => setTimeout(resolve, 50));
      if (performance.now() - last >= quietMs && !busy() && !animating()) return true;
    }
    return false;
  } finally {
    observer.disconnect();
  }
}"""

_AXE_RUN_JS = """async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, impact: n.impact,
                              summary: n.failureSummary})),
  }));
}"""

# The outermost elements sticking out on the right, when the page scrolls sideways.
_OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const scrollWidth = document.scrollingElement.scrollWidth;
  if (scrollWidth <= width) return null;
  const out = el => el.getBoundingClientRect().right > width + 0.5;
  const culprits = [...document.body.querySelectorAll('*')]
    .filter(el => out(el) && el.getClientRects().length > 0
                  && !(el.parentElement && out(el.parentElement)))
    .slice(0, 5)
    .map(el => {
      const r = el.getBoundingClientRect();
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + [...el.classList].slice(0, 3).map(c => '.' + c).join('');
      return `${name} (${Math.round(r.left)}-${Math.round(r.right)} px): `
        + el.outerHTML.slice(0, 160);
    });
  return {width, scrollWidth, culprits};
}"""


class Findings:
    """The problems the checks of one test found. While a page has one (`collect_on`), checks
    record their problems here instead of raising, so a test reports every state it visited;
    the `page` fixture fails the test with all of them at its end. The same problem on the same
    address is told once, with every width it was seen at."""

    def __init__(self) -> None:
        self._entries: dict[object, tuple[str, list[int | None]]] = {}

    @property
    def problems(self) -> list[str]:
        return [_at_widths(message, widths) for message, widths in self._entries.values()]

    def add(self, message: str, key: object, width: int | None) -> None:
        _, widths = self._entries.setdefault(key, (message, []))
        if width not in widths:
            widths.append(width)

    def clear(self) -> None:
        self._entries.clear()

    def report(self) -> str:
        problems = self.problems
        return (f"{len(problems)} accessibility/layout problem{'s' if len(problems) > 1 else ''}"
                ":\n\n" + "\n\n".join(problems))


_WIDTHS_MARK = "{widths}"


def _at_widths(message: str, widths: list[int | None]) -> str:
    return message.replace(_WIDTHS_MARK, " and ".join(f"{w} px" for w in widths), 1)


_findings: weakref.WeakKeyDictionary[Page, Findings] = weakref.WeakKeyDictionary()


def collect_on(page: Page) -> Findings:
    """From now on, this page's checks record their problems instead of raising."""
    return _findings.setdefault(page, Findings())


def fail_on_findings(page: Page) -> None:
    """Fail now with what this page's checks have found so far (then start afresh)."""
    findings = _findings.get(page)
    if findings is not None and findings.problems:
        report = findings.report()
        findings.clear()
        pytest.fail(report, pytrace=False)


def _problem(page: Page, message: str, key: object) -> None:
    """`message` holds `{widths}` where the width(s) it was seen at go."""
    findings = _findings.get(page)
    if findings is None:
        pytest.fail(_at_widths(message, [_width(page)]), pytrace=False)
    findings.add(message, key, _width(page))


async def _wait_for_render(page: Page) -> None:
    """Until the app has rendered something (a first visit compiles the page in Vite)."""
    # Checked anyway when nothing comes: axe then reports an empty page.
    with contextlib.suppress(PlaywrightTimeoutError):
        await page.wait_for_function(
            "() => document.body && document.body.innerText.trim().length > 0",
            timeout=FIRST_LOAD_TIMEOUT)


def _navigated(error: PlaywrightError) -> bool:
    """The page navigated during a check (a redirect): check the new document instead."""
    return "Execution context was destroyed" in str(error)


async def bounded(step: Awaitable[Any], page: Page, what: str,
                  seconds: float = EVALUATE_TIMEOUT_S) -> Any:
    """`step` (a Playwright call without a timeout of its own), failing after `seconds`."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        pytest.fail(f"the page {page.url} did not answer {what} within {seconds:.0f} s "
                    "(a hung renderer?)", pytrace=False)


async def _evaluate(page: Page, script: str, arg: Any = None) -> Any:
    for attempt in range(3):
        try:
            return await bounded(page.evaluate(script, arg), page, "a check script")
        except PlaywrightError as exc:
            if attempt == 2 or not _navigated(exc):
                raise
            await page.wait_for_load_state()
            await _wait_for_render(page)
    raise AssertionError("unreachable")


async def settle(page: Page, *, max_ms: int = 10_000) -> None:
    """Wait for the page to render (first visits compile in Vite), then to be still."""
    await _wait_for_render(page)
    await _evaluate(page, _SETTLE_JS, {"quietMs": 300, "maxMs": max_ms})


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (axe injected once per document)."""
    for attempt in range(3):
        try:
            if not await bounded(page.evaluate("() => typeof window.axe === 'object'"), page,
                                 "looking for axe"):
                await bounded(page.add_script_tag(content=axe.script()), page, "adding axe")
            return await bounded(page.evaluate(_AXE_RUN_JS, list(AXE_TAGS)), page, "axe.run")
        except PlaywrightError as exc:
            if attempt == 2 or not _navigated(exc):
                raise
            await page.wait_for_load_state()
            await settle(page)
    raise AssertionError("unreachable")


def _snippet(html: str) -> str:
    html = re.sub(r"\s+", " ", html).strip()
    return html if len(html) <= HTML_SNIPPET else html[:HTML_SNIPPET] + "…"


def _contrast(summary: str) -> str:
    match = re.search(r"contrast of [^)]*\)[^.]*", summary)
    return match.group(0) if match else _snippet(summary)


def format_violations(violations: list[dict[str, Any]], *, context: str) -> str:
    lines = [f"axe: {len(violations)} rule(s) violated on {context}"]
    for v in violations:
        nodes = v["nodes"]
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({len(nodes)} element(s)) "
                     f"{v['helpUrl']}")
        for node in nodes[:NODES_SHOWN]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {_snippet(node['html'])}")
            if v["id"] == "color-contrast":  # the measured ratio and colours
                lines.append(f"      {_contrast(node.get('summary') or '')}")
        if len(nodes) > NODES_SHOWN:
            lines.append(f"    … and {len(nodes) - NODES_SHOWN} more")
    return "\n".join(lines)


def _width(page: Page) -> int | None:
    size = page.viewport_size
    return size["width"] if size else None


def _describe(page: Page, context: str) -> str:
    return f"{context} ({page.url} at {_WIDTHS_MARK})"


async def assert_accessible(page: Page, *, context: str) -> list[dict[str, Any]]:
    """Fail (or record, see `Findings`) on any axe violation, whatever its impact."""
    violations = await axe_violations(page)
    if violations:
        key = ("axe", page.url, tuple(
            (v["id"], tuple(json.dumps(n["target"]) for n in v["nodes"])) for v in violations))
        _problem(page, format_violations(violations, context=_describe(page, context)), key)
    return violations


async def assert_no_horizontal_scroll(page: Page, *, context: str = "this page") -> None:
    """The page is no wider than the window: nothing to scroll sideways."""
    overflow = await _evaluate(page, _OVERFLOW_JS)
    if overflow:
        _problem(page, "\n    ".join([
            f"horizontal scroll on {context} ({page.url} at {_width(page)} px): the page is "
            f"{overflow['scrollWidth']} px wide in a {overflow['width']} px window; sticking "
            "out:", *overflow["culprits"]]),
            ("scroll", page.url, _width(page)))


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:150] or "page"


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page as it is, named after `name` and the window's width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_file_name(name)}-{_width(page)}px.png"
    await page.screenshot(path=path, full_page=True)
    return path


#: What the checks cost this run: [count, seconds, axe runs skipped] (printed at the end of the
#: session, so the browser suite's share of CI's time budget stays visible).
CHECK_COST: list[float] = [0, 0.0, 0]

# Everything axe's verdict depends on: the window's size, the document exactly as it is (its
# HTML, so its classes, styles, texts and attributes) and which element has the focus (a focus
# ring has its own colours). The mouse is parked first (see check_page). Two states with the
# same fingerprint get the same verdict, so a state already found clean is not run through axe
# again (the tour, for one, checks each page where `goto` lands and again at each width).
_FINGERPRINT_JS = """() => {
  const path = [];
  for (let el = document.activeElement; el && el !== document.body; el = el.parentElement) {
    path.unshift(el.tagName + ':' + [...(el.parentElement || document).children].indexOf(el));
  }
  return `${innerWidth}x${innerHeight}|${path.join('/')}|${document.documentElement.outerHTML}`;
}"""
_CLEAN_STATES: set[str] = set()


async def check_page(page: Page, name: str) -> None:
    """Settle, screenshot, then axe and the sideways-scroll check, at the current width.

    The mouse is first moved to the window's top left corner: the page is judged at rest, not
    with whatever a test last clicked hovered (a hovered link has its own colours)."""
    started = time.monotonic()
    try:
        await _check_page(page, name)
    finally:
        CHECK_COST[0] += 1
        CHECK_COST[1] += time.monotonic() - started


async def _fingerprint(page: Page) -> str:
    return hashlib.sha256((await _evaluate(page, _FINGERPRINT_JS)).encode()).hexdigest()


async def _check_page(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)
    await settle(page)
    fingerprint = await _fingerprint(page)
    if fingerprint in _CLEAN_STATES:
        CHECK_COST[2] += 1
        violations: list[dict[str, Any]] = []
    else:
        violations = await assert_accessible(page, context=name)
        # Recorded only if the page did not change while axe ran (a late update is checked
        # the next time).
        if not violations and await _fingerprint(page) == fingerprint:
            _CLEAN_STATES.add(fingerprint)
    # A full-page screenshot costs about a third of a check: taken where axe found something
    # (beside its report), or everywhere with CARNET_SCREENSHOTS_ALL=1 (to look at every state).
    if violations or os.environ.get("CARNET_SCREENSHOTS_ALL") == "1":
        shot = await screenshot(page, name)
    else:
        shot = SCREENSHOTS / f"{_file_name(name)}-{_width(page)}px.png"
    report = shot.with_suffix(".axe.json")
    if violations:
        report.write_text(json.dumps({"name": name, "url": page.url, "width": _width(page),
                                      "violations": violations}, ensure_ascii=False, indent=1))
    else:
        report.unlink(missing_ok=True)
    await assert_no_horizontal_scroll(page, context=name)


async def each_width(page: Page) -> AsyncIterator[int]:
    """`async for width in each_width(page):` runs the block at 390 x 844, then 1280 x 800."""
    for width, size in WIDTHS.items():
        await page.set_viewport_size(size)
        yield width


async def check_at_widths(page: Page, name: str) -> None:
    """`check_page` at each width of `WIDTHS` (the page is left at the last one)."""
    async for _ in each_width(page):
        await check_page(page, name)
