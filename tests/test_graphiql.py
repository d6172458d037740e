"""GraphiQL is served from Carnet itself (issue 9, item 13): no CDN, integrity-checked assets.

Needs the assets installed (`make graphiql`, which `make test` and `make run` do).
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from backend import graphiql
from tests.conftest import CI

HTML = {"Accept": "text/html"}


def _require_assets() -> None:
    try:
        graphiql.load.cache_clear()
        graphiql.load()
    except graphiql.AssetsMissing as exc:
        message = f"GraphiQL assets not installed ({exc}): run `make graphiql`"
        if CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


class _References(HTMLParser):
    """Every URL the page makes the browser fetch: script src, link href, img src..."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if any(attributes.get(name) for name in ("src", "href")):
            self.tags.append((tag, attributes))


def references(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _References()
    parser.feed(page)
    return parser.tags


@pytest.fixture
def assets_installed() -> None:
    _require_assets()
    yield
    graphiql.load.cache_clear()


async def test_graphiql_page_uses_only_its_own_integrity_checked_assets(
    client: httpx.AsyncClient, assets_installed: None
) -> None:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "unpkg.com" not in page and "jsdelivr" not in page
    tags = references(page)
    fetched = [(tag, a) for tag, a in tags if not (a.get("href") or "").startswith("data:")]
    scripts = [a["src"] for tag, a in fetched if tag == "script"]
    styles = [a["href"] for tag, a in fetched if tag == "link"]
    assert len(scripts) == 5 and len(styles) == 2, tags
    for tag, attributes in fetched:
        url = attributes.get("src") or attributes.get("href") or ""
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{tag} loads {url} from another host"
        assert url.startswith("/graphiql/assets/"), url
        integrity = attributes.get("integrity")
        assert integrity and integrity.startswith("sha384-"), f"{url} has no SRI hash"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert graphiql.sri(asset.content) == integrity, f"{url} does not match its hash"
        assert asset.headers["x-content-type-options"] == "nosniff"
        expected_type = "text/css" if url.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"].startswith(expected_type)
    # The page itself: scripts only from here (plus its one inline script, by hash).
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp
    assert "connect-src 'self'" in csp


async def test_graphiql_keeps_its_headers_editor(client, assets_installed) -> None:
    page = (await client.get("/graphql", headers=HTML)).text
    # README: sign in, then paste {"Authorization": "Bearer <token>"} in the Headers tab.
    assert "isHeadersEditorEnabled: true" in page
    assert "subscriptionUrl" in page


async def test_only_pinned_assets_are_served(client, assets_installed) -> None:
    for path in ("/graphiql/assets/graphiql@3.8.3/package.json",
                 "/graphiql/assets/../__init__.py",
                 "/graphiql/assets/%2e%2e/__init__.py",
                 "/graphiql/assets/graphiql@3.8.3/graphiql.js"):
        response = await client.get(path)
        assert response.status_code == 404, path


async def test_missing_assets_answer_a_clear_message(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql, "STATIC_DIR", tmp_path / "nothing-here")
    graphiql.load.cache_clear()
    try:
        response = await client.get("/graphql", headers=HTML)
        assert response.status_code == 503
        assert "make graphiql" in response.text
        assert "Loading..." not in response.text
        asset = await client.get("/graphiql/assets/" + graphiql.ASSETS[0].path)
        assert asset.status_code == 503
        # The API itself still answers.
        body = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        assert body["data"] == {"__typename": "Query"}
    finally:
        graphiql.load.cache_clear()


async def test_an_altered_asset_is_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    assets_installed: None,
) -> None:
    copy = tmp_path / "static"
    shutil.copytree(graphiql.STATIC_DIR, copy)
    target = copy / graphiql.ASSETS[-1].path
    target.write_bytes(target.read_bytes() + b"\nalert(1);\n")
    monkeypatch.setattr(graphiql, "STATIC_DIR", copy)
    graphiql.load.cache_clear()
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 503
    assert "does not match its pinned integrity hash" in response.text


def _fake_node_modules(root: Path, *, version_of: dict[str, str] | None = None,
                       tamper: str | None = None) -> Path:
    source = graphiql.STATIC_DIR
    for asset in graphiql.ASSETS:
        package = root / asset.package
        package.mkdir(parents=True, exist_ok=True)
        version = (version_of or {}).get(asset.package, asset.version)
        (package / "package.json").write_text(f'{{"version": "{version}"}}')
        data = (source / asset.path).read_bytes()
        if asset.package == tamper:
            data += b" "
        (package / asset.file).parent.mkdir(parents=True, exist_ok=True)
        (package / asset.file).write_bytes(data)
    return root


def test_collect_checks_versions_and_hashes(tmp_path: Path, assets_installed: None) -> None:
    good = _fake_node_modules(tmp_path / "good")
    copied = graphiql.collect(good, tmp_path / "out")
    assert sorted(copied) == sorted(a.path for a in graphiql.ASSETS)
    for asset in graphiql.ASSETS:
        assert graphiql.sri((tmp_path / "out" / asset.path).read_bytes()) == asset.integrity

    other = _fake_node_modules(tmp_path / "other", version_of={"graphiql": "4.0.0"})
    with pytest.raises(graphiql.AssetsMissing, match="graphiql is 4.0.0"):
        graphiql.collect(other, tmp_path / "out2")
    tampered = _fake_node_modules(tmp_path / "tampered", tamper="react")
    with pytest.raises(graphiql.AssetsMissing, match="react/umd/react.production.min.js"):
        graphiql.collect(tampered, tmp_path / "out3")
    with pytest.raises(graphiql.AssetsMissing, match="not installed"):
        graphiql.collect(tmp_path / "empty", tmp_path / "out4")


def test_manifest_matches_package_json() -> None:
    import json

    pinned = json.loads((graphiql.HERE / "package.json").read_text())["dependencies"]
    lock = json.loads((graphiql.HERE / "package-lock.json").read_text())["packages"]
    for asset in graphiql.ASSETS:
        assert pinned[asset.package] == asset.version, asset.package
        assert lock[f"node_modules/{asset.package}"]["version"] == asset.version
        assert lock[f"node_modules/{asset.package}"]["integrity"].startswith("sha512-")


async def test_no_asset_route_without_graphiql(migrated) -> None:
    from backend.app import create_app

    app = create_app(migrated.model_copy(update={"graphiql": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/graphiql/assets/" + graphiql.ASSETS[0].path)
    assert response.status_code == 404


def test_collect_needs_only_the_standard_library() -> None:
    # `collect` runs at build time with the standard library only (no starlette import).
    import subprocess
    import sys

    code = ("import sys, backend.graphiql; "
            "assert 'starlette' not in sys.modules, 'starlette imported at build time'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=graphiql.HERE.parent.parent)


def test_make_run_and_make_test_install_the_assets() -> None:
    """.ci/run only calls `make test`: a fresh clone must get the assets from it."""
    import re

    makefile = (graphiql.HERE.parent.parent / "Makefile").read_text()
    for target in ("run", "test"):
        line = re.search(rf"^{target}:(.*)$", makefile, re.M)
        assert line and "graphiql" in line.group(1).split(), f"`make {target}` skips graphiql"
    assert "npm ci --prefix $(GRAPHIQL)" in makefile
    assert "-m backend.graphiql collect" in makefile
